import { describe, expect, it } from 'vitest';
import { parseLabCidr } from '../../src/lab/lab-addressing.ts';
import { planLab } from '../../src/lab/plan-lab.ts';
import { getLabScenario, labScenarios } from '../../src/lab/scenario-registry.ts';

const subnet = parseLabCidr('10.240.9.0/24', 'test');

describe('shipped lab scenarios', () => {
  it('covers one scenario per triage cause that the lab can reproduce', () => {
    expect([...labScenarios.keys()].sort()).toEqual([
      'blocked-upstream', 'bound-loopback', 'drop-policy', 'drop-rule', 'ipset-blocklist', 'nft-native', 'not-listening',
      'persistence-drift', 'reachable', 'reject-tcp-reset', 'reply-blocked', 'seed-ipv6', 'seed-telnet', 'tcp-wrappers',
    ]);
  });

  it.each([...labScenarios.keys()])('%s plans without errors and has a managed server and client', (name) => {
    const plan = planLab(getLabScenario(name), 'wbtest0', subnet);
    const names = plan.hosts.map((h) => h.name);
    expect(names).toEqual(expect.arrayContaining(['server', 'client']));
    expect(plan.hosts.find((h) => h.name === 'server')!.sshd).toBe(true);
  });

  it('rejects an unknown scenario with the list of known ones', () => {
    expect(() => getLabScenario('seed-telnt')).toThrow(/unknown lab scenario "seed-telnt". Known scenarios: seed-telnet/);
  });
});
