import { describe, expect, it } from 'vitest';
import { explainPacket, parseRuleset, type HostContext, type PacketInput } from '../../src/analyzer/index.ts';
import { ErrorCode } from '../../src/errors.ts';

/** DNAT to a container or a remote host, and `-o` rules in FORWARD and OUTPUT that tell the routes apart. */
const RULESET = [
  '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
  '-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80',
  '-A PREROUTING -p tcp -m tcp --dport 8081 -j DNAT --to-destination 203.0.113.9:80',
  'COMMIT',
  '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]',
  '-A FORWARD -o docker0 -j ACCEPT',
  '-A FORWARD -o wan+ -j REJECT --reject-with icmp-admin-prohibited',
  '-A OUTPUT -o wan0 -p tcp -m tcp --sport 22 -j DROP',
  'COMMIT', '',
].join('\n');

const ctx: HostContext = {
  interfaces: [{ name: 'eth0', addresses: ['10.0.0.1/24'] }, { name: 'docker0', addresses: ['172.17.0.1/16'] }],
  routes: [{ dst: '0.0.0.0/0', iface: 'wan0' }, { dst: '172.16.0.0/12', iface: 'tun0' }, { dst: '192.0.2.0/24', iface: 'eth0' }],
};
const tcp = (dport: number, src = '192.0.2.10'): PacketInput => ({ proto: 'tcp', src, dst: '10.0.0.1', sport: 40000, dport, inIface: 'eth0' });

describe('host routes (HostContext.routes)', () => {
  const rs = parseRuleset(RULESET);

  it('a forwarded packet leaves by the longest matching prefix: a connected subnet beats a shorter route', () => {
    const r = explainPacket(rs, tcp(8080), ctx);
    expect(r).toMatchObject({ path: 'forward', verdict: 'accept', translated: { outIface: 'docker0' } });
    expect(r.chainVerdicts.find((c) => c.chain === 'FORWARD')).toMatchObject({ position: 1, verdict: 'accept' });
  });

  it('a destination no connected subnet covers leaves by the default route', () => {
    const r = explainPacket(rs, tcp(8081), ctx);
    expect(r).toMatchObject({ path: 'forward', verdict: 'reject', rejectWith: 'icmp-admin-prohibited', translated: { outIface: 'wan0' } });
  });

  it('without routes, `-o` in FORWARD cannot be judged for a destination outside every connected subnet', () => {
    const r = explainPacket(rs, tcp(8081), { interfaces: ctx.interfaces ?? [] });
    expect(r.verdict).toBe('unknown');
    expect(r.unknowns[0]?.reasons.join(' ')).toContain('output interface depends on routing');
  });

  it("the host's answer follows the route to the client, not the request's input interface", () => {
    const viaDefault = explainPacket(rs, tcp(22, '198.51.100.7'), ctx);
    expect(viaDefault.reply).toMatchObject({ verdict: 'drop', packet: { outIface: 'wan0' }, decidedBy: { chain: 'OUTPUT', position: 1 } });
    const viaRoute = explainPacket(rs, tcp(22, '192.0.2.10'), ctx);
    expect(viaRoute.reply).toMatchObject({ verdict: 'accept', packet: { outIface: 'eth0' } });
    // No route to the client at all: the request's input interface is the documented fallback.
    const fallback = explainPacket(rs, tcp(22, '198.51.100.7'), { interfaces: ctx.interfaces ?? [] });
    expect(fallback.reply).toMatchObject({ verdict: 'accept', packet: { outIface: 'eth0' } });
  });

  it('an answer to one of the host\'s own addresses leaves by lo', () => {
    const r = explainPacket(rs, { ...tcp(22), src: '172.17.0.1', inIface: 'lo' }, ctx);
    expect(r.reply).toMatchObject({ packet: { outIface: 'lo' } });
  });

  it('IPv6 routes are matched per family', () => {
    const rs6 = parseRuleset(RULESET.replace('172.17.0.2:80', '[2001:db8:9::1]:80').replace('icmp-admin-prohibited', 'icmp6-adm-prohibited').replace(/^-A (PREROUTING|OUTPUT) .*(8081|wan0).*\n/gm, ''), { format: 'iptables-save', family: 'ipv6' });
    const r = explainPacket(rs6, { proto: 'tcp', src: '2001:db8:5::7', dst: '2001:db8:1::1', sport: 40000, dport: 8080, inIface: 'eth0' },
      { localAddresses: ['2001:db8:1::1'], routes: [{ dst: '0.0.0.0/0', iface: 'docker0' }, { dst: '::/0', iface: 'wan0' }] });
    expect(r).toMatchObject({ path: 'forward', verdict: 'reject', translated: { dst: '2001:db8:9::1', outIface: 'wan0' } });
  });

  const bad: Array<[string, HostContext['routes']]> = [
    ['a destination without prefix length', [{ dst: '10.0.0.0', iface: 'eth0' }]],
    ['a destination that is no address', [{ dst: 'default', iface: 'eth0' }]],
    ['a prefix longer than the family allows', [{ dst: '::/129', iface: 'eth0' }]],
    ['an empty interface name', [{ dst: '0.0.0.0/0', iface: '' }]],
    ['an interface name over 15 characters', [{ dst: '0.0.0.0/0', iface: 'abcdefghijklmnop' }]],
  ];
  it.each(bad)('a route with %s is a usage error', (_name, routes) => {
    expect(() => explainPacket(rs, tcp(8081), { ...ctx, routes })).toThrow(expect.objectContaining({ code: ErrorCode.Usage }));
  });
});

describe('IPv6 REDIRECT (nf_nat_redirect_ipv6)', () => {
  const rs = parseRuleset(['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
    '-A PREROUTING -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 8080', 'COMMIT', ''].join('\n'), { format: 'iptables-save', family: 'ipv6' });
  // In `ip -j addr` order: the kernel lists a newer global address first.
  const ctx6: HostContext = { interfaces: [{ name: 'eth0', addresses: ['fe80::1/64', '2001:db8::2/64', '2001:db8::1/64'] }] };
  const to = (dst: string): PacketInput => ({ proto: 'tcp', src: dst.startsWith('fe80') ? 'fe80::9' : '2001:db8::9', dst, sport: 40000, dport: 80, inIface: 'eth0' });

  it.each([
    ['a global destination goes to the first global address of the interface', '2001:db8::1', '2001:db8::2'],
    ['a link-local destination goes to the link-local address', 'fe80::1', 'fe80::1'],
  ])('%s', (_name, dst, expected) => {
    expect(explainPacket(rs, to(dst), ctx6).translated).toMatchObject({ dst: expected, dport: 8080 });
  });
});
