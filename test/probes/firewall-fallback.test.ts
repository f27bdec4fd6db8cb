import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../../src/remote/executor.ts';
import type { RunCommand } from '../../src/probes/ports.ts';
import { explainFlowWithAnalyzer, synthesizeFixesWithAnalyzer } from '../../src/probes/analyzer-adapters.ts';
import { createTriageProbes } from '../../src/probes/triage-probes.ts';
import type { FirewallData, FlowSpec } from '../../src/triage/evidence-types.ts';
import { fixture } from './fixture.ts';

const result = (code: number, stdout = '', stderr = ''): ExecResult => ({ code, stdout, stderr, durationMs: 1, truncated: false, timedOut: false });
const notFound = (tool: string): ExecResult => result(127, '', `timeout: failed to run command '${tool}': No such file or directory`);

/** A target that has the save tools `present` and records what it was asked to run. */
function fakeTarget(present: string[]): { run: RunCommand; asked: string[] } {
  const asked: string[] = [];
  const run: RunCommand = async (cmd) => {
    const tool = cmd.argv[0]!;
    asked.push(tool);
    if (/tables(-legacy|-nft)?-save$/.test(tool)) {
      if (!present.includes(tool)) return notFound(tool);
      // The rules live in the legacy tables (or, on an old host, behind the only tool there is).
      return result(0, tool === 'iptables-legacy-save' || tool === 'iptables-save' ? fixture('iptables-legacy-save.seed.txt') : '');
    }
    if (tool === 'iptables') return result(0, present.includes('iptables-legacy-save') ? 'iptables v1.8.9 (legacy)\n' : 'iptables v1.4.21\n');
    return result(1);
  };
  return { run, asked };
}
const runLocal: RunCommand = async () => result(1);

describe('firewall probe: which save tools it asks for', () => {
  it.each([
    ['a current host (suffixed tools)', ['iptables-legacy-save', 'iptables-nft-save', 'ip6tables-legacy-save', 'ip6tables-nft-save'], false],
    ['a RHEL 7 era host (only the unsuffixed tools)', ['iptables-save', 'ip6tables-save'], true],
  ])('%s', async (_what, present, fallsBack) => {
    const target = fakeTarget(present);
    const probes = createTriageProbes({ port: 23 }, { target: { name: 'server', address: '192.168.30.2', run: target.run }, runLocal, now: Date.now });
    const ev = await probes.run('firewall');
    const data = ev.data as FirewallData;
    // Either way the seed's filter table is read exactly once.
    expect(data.dumps.filter((d) => d.family === 'ipv4').map((d) => d.text)).toEqual([fixture('iptables-legacy-save.seed.txt')]);
    expect(target.asked.includes('iptables-save')).toBe(fallsBack);
    expect(target.asked.includes('ip6tables-save')).toBe(fallsBack);
    // The fixes name the tool the host has: `iptables` where the suffixed ones do not exist.
    const flow: FlowSpec = { family: 'ipv4', proto: 'tcp', src: '192.168.30.1', dst: '192.168.30.2', sport: 40000, dport: 23, inIface: 'eth0' };
    const host = { localAddresses: ['192.168.30.2'], interfaces: [{ name: 'eth0', addresses: ['192.168.30.2/24'] }] };
    const verdict = explainFlowWithAnalyzer({ dumps: data.dumps, flow, host });
    const fixes = synthesizeFixesWithAnalyzer({ dumps: data.dumps, flow, host, decidedBy: verdict.decidedBy!, targetHost: 'server' });
    expect(fixes.length).toBeGreaterThan(0);
    for (const fix of fixes) expect(fix.commands[0]).toMatch(fallsBack ? /^iptables -w / : /^iptables-legacy -w /);
  });
});

describe('firewall probe: ipset contents for -m set rules', () => {
  const rules = '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m set --match-set ban src -j DROP\nCOMMIT\n';
  /** A legacy host whose rules are `rulesText`; `ipset` answers `ipsetResult`. */
  function target(rulesText: string, ipsetResult: ExecResult): { run: RunCommand; asked: string[] } {
    const asked: string[] = [];
    const run: RunCommand = async (cmd) => {
      const tool = cmd.argv[0]!;
      asked.push(cmd.argv.join(' '));
      if (tool === 'iptables-legacy-save') return result(0, rulesText);
      if (/tables(-legacy|-nft)?-save$/.test(tool)) return result(0, '');
      if (tool === 'iptables') return result(0, 'iptables v1.8.9 (legacy)\n');
      if (tool === 'ipset') return ipsetResult;
      if (tool === 'ip' && cmd.argv[2] === 'route') return result(0, '[{"dev":"eth0","prefsrc":"192.168.30.2"}]');
      return result(1);
    };
    return { run, asked };
  }
  const probe = async (t: { run: RunCommand }): Promise<FirewallData> => {
    const probes = createTriageProbes({ port: 22, from: '203.0.113.7' },
      { target: { name: 'server', address: '192.168.30.2', run: t.run }, runLocal, now: Date.now, explain: explainFlowWithAnalyzer });
    return (await probes.run('firewall')).data as FirewallData;
  };

  it('collects `ipset save` when a dump uses --match-set, and the verdict is judged from it', async () => {
    const t = target(rules, result(0, 'create ban hash:ip family inet hashsize 1024 maxelem 65536\nadd ban 203.0.113.7\n'));
    const data = await probe(t);
    expect(t.asked).toContain('ipset save');
    expect(data.ipsetSave).toContain('add ban 203.0.113.7');
    expect(data.forward).toMatchObject({ verdict: 'drop', decidedBy: { position: 1 } });
  });

  it('does not ask for ipset when no rule names a set', async () => {
    const t = target(rules.replace('-m set --match-set ban src ', '-s 203.0.113.7/32 '), result(0, ''));
    await probe(t);
    expect(t.asked).not.toContain('ipset save');
  });

  it.each([
    ['the tool is missing', notFound('ipset'), 'not installed'],
    ['sudo refuses it', result(1, '', 'sudo: a password is required'), 'ipset'],
  ])('when %s the rule stays unknown and the report says why', async (_what, answer, mention) => {
    const data = await probe(target(rules, answer));
    expect(data.ipsetSave).toBeUndefined();
    expect(data.missing.join('\n')).toContain(mention);
    expect(data.forward?.verdict).toBe('unknown');
    expect(data.forward?.unknowns.join('\n')).toContain('ipset save');
  });
});
