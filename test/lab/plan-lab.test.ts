import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.ts';
import { cidrsOverlap, parseLabCidr, pickLabSubnet } from '../../src/lab/lab-addressing.ts';
import { renderInventory, renderKnownHosts } from '../../src/lab/lab-ssh-files.ts';
import { planLab } from '../../src/lab/plan-lab.ts';
import { getLabScenario } from '../../src/lab/scenario-registry.ts';
import { occupiedFromIpJson } from '../../src/lab/read-occupied-ranges.ts';
import type { LabScenario } from '../../src/lab/lab-scenario.ts';
import { seedTelnetScenario } from './lab-test-exports.ts';

const range = parseLabCidr('10.240.0.0/16', 'test');

describe('lab addressing (pure)', () => {
  it('takes the first /24 that overlaps no route or address, ignoring default routes', () => {
    const occupied = occupiedFromIpJson(
      [{ dst: 'default', gateway: '192.0.2.1' }, { dst: '10.240.0.0/26', dev: 'wbaaaaa-m' }, { dst: '10.240.1.7' }],
      [{ ifname: 'eth9', addr_info: [{ family: 'inet', local: '10.240.2.9', prefixlen: 23 }] }],
    );
    expect(occupied.map((o) => o.what)).toEqual(['route 10.240.0.0/26 dev wbaaaaa-m', 'route 10.240.1.7', 'address 10.240.2.9/23 on eth9']);
    expect(pickLabSubnet(range, occupied, 'test')).toEqual(parseLabCidr('10.240.4.0/24', 'test'));
  });

  it('refuses when the whole range is taken, naming what is in the way', () => {
    const occupied = occupiedFromIpJson([{ dst: '10.0.0.0/8', dev: 'vpn0' }], []);
    expect(() => pickLabSubnet(parseLabCidr('10.9.9.0/24', '--cidr'), occupied, '--cidr'))
      .toThrow(expect.objectContaining({ code: ErrorCode.ConfigInvalid, message: expect.stringMatching(/overlaps route 10\.0\.0\.0\/8 dev vpn0/) }));
  });

  it.each([
    ['10.0.0.0/8', '10.255.0.0/16', true],
    ['10.1.0.0/16', '10.2.0.0/16', false],
    ['192.168.1.0/24', '192.168.1.128/25', true],
  ])('%s overlaps %s: %s', (a, b, expected) => {
    const parse = (t: string) => { const [x, p] = t.split('/'); return { base: x!.split('.').reduce((acc, o) => acc * 256 + Number(o), 0), prefix: Number(p) }; };
    expect(cidrsOverlap(parse(a), parse(b))).toBe(expected);
  });
});

describe('planLab (pure)', () => {
  const subnet = parseLabCidr('10.240.7.0/24', 'test');

  it('places the seed hosts on the management segment and fills in addresses', () => {
    const plan = planLab(seedTelnetScenario, 'wbabcde', subnet);
    const server = plan.hosts.find((h) => h.name === 'server')!;
    expect(server).toMatchObject({ ns: 'wbabcde-server', addresses: ['10.240.7.2'], aliases: ['server.lab'] });
    expect(server.etcFiles['hosts.allow']).toContain('ALL: 10.240.7.1');
    expect(plan).toMatchObject({ rootVeth: 'wbabcde-m', rootAddress: '10.240.7.62', switchNs: 'wbabcde-sw', subnet: '10.240.7.0/24' });
    expect(plan.rootVeth.length).toBeLessThanOrEqual(15);
  });

  it('fills host placeholders into a firewall\'s ipset contents', () => {
    const plan = planLab(getLabScenario('ipset-blocklist'), 'wbabcde', subnet);
    expect(plan.hosts.find((h) => h.name === 'server')!.firewall?.ipsets).toContain('add blocklist 10.240.7.1\n');
  });

  it('routes the root namespace and the hosts through a router to other segments', () => {
    const routed: LabScenario = {
      name: 'routed', summary: 'test', ipv6: true,
      segments: [{ name: 'mgmt' }, { name: 'dmz', reachVia: 'router' }],
      hosts: {
        router: { interfaces: [{ segment: 'mgmt', hostId: 1 }, { segment: 'dmz', hostId: 1 }], sysctls: { 'net.ipv4.ip_forward': '1' } },
        web: { interfaces: [{ segment: 'dmz', hostId: 5 }], routes: [{ to: 'mgmt', via: 'router' }], listeners: [{ kind: 'tcp', address: '{{self}}', port: 80 }] },
      },
    };
    const plan = planLab(routed, 'wbabcde', subnet);
    expect(plan.rootRoutes).toEqual([
      { to: '10.240.7.64/26', via: '10.240.7.1', ipv6: false },
      { to: 'fd77:6200:f007:1::/64', via: 'fd77:6200:f007::1', ipv6: true },
    ]);
    const web = plan.hosts.find((h) => h.name === 'web')!;
    expect(web.addresses).toEqual(['10.240.7.69', 'fd77:6200:f007:1::5']);
    expect(web.routes[0]).toEqual({ to: '10.240.7.0/26', via: '10.240.7.65', ipv6: false });
    expect(web.listeners[0]!.address).toBe('10.240.7.69');
  });

  it.each([
    ['an unknown segment', { hosts: { a: { interfaces: [{ segment: 'nope', hostId: 1 }] } } }, /unknown segment "nope"/],
    ['a duplicate hostId', { hosts: { a: { interfaces: [{ segment: 'lan', hostId: 3 }] }, b: { interfaces: [{ segment: 'lan', hostId: 3 }] } } }, /hostId 3 is used twice/],
    ['a template naming no host', { hosts: { a: { interfaces: [{ segment: 'lan', hostId: 3 }], etcFiles: { 'hosts.allow': 'ALL: {{ghost}}' } } } }, /"\{\{ghost\}\}" names no host/],
    ['an etc path escaping /etc', { hosts: { a: { interfaces: [{ segment: 'lan', hostId: 3 }], etcFiles: { '../shadow': '' } } } }, /plain path relative to \/etc/],
    ['a reserved host name', { hosts: { sw: { interfaces: [{ segment: 'lan', hostId: 3 }] } } }, /host name "sw"/],
    ['ipsets on an nft host', { hosts: { a: { interfaces: [{ segment: 'lan', hostId: 3 }], firewall: { backend: 'nft', rules: '', ipsets: 'create s hash:ip\n' } } } }, /ipsets are for iptables backends/],
  ])('rejects %s', (_name, partial, message) => {
    const scenario = { name: 'x', summary: 'x', segments: [{ name: 'lan' }], ...partial } as LabScenario;
    expect(() => planLab(scenario, 'wbabcde', subnet)).toThrow(expect.objectContaining({ code: ErrorCode.LabFailed, message: expect.stringMatching(message) }));
  });

  it('renders the product inventory and plain known_hosts lines', () => {
    const plan = planLab(seedTelnetScenario, 'wbabcde', subnet);
    expect(renderInventory('wbabcde', 'seed-telnet', plan.hosts)).toContain('server:\n    address: 10.240.7.2\n    aliases:\n      - server.lab\n    site: lab');
    expect(renderKnownHosts([{ host: plan.hosts[0]!, publicKey: 'ssh-ed25519 AAAAKEY server@lab' }]))
      .toBe('server,server.lab,10.240.7.2 ssh-ed25519 AAAAKEY\n');
  });
});
