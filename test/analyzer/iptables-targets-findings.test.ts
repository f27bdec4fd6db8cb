import { describe, expect, it } from 'vitest';
import { explainPacket, parseRuleset, type PacketInput } from '../../src/analyzer/index.ts';

// Analyzer fixes for what the differential harness measured on dotted masks, -f, CONNMARK, CT
// templates and unknown targets (test/differential/FINDINGS.md, "Non-terminating targets").

const ctx = { localAddresses: ['10.99.0.2'], interfaces: [{ name: 'eth0', addresses: ['10.99.0.2/32'] }] };
const udp: PacketInput = { proto: 'udp', src: '198.51.100.7', dst: '10.99.0.2', sport: 40000, dport: 53, inIface: 'eth0', state: 'NEW' };

const RAW = (rules: string): string => `*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${rules}COMMIT\n`;
const MANGLE = (rules: string): string => `*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n${rules}COMMIT\n`;
const FILTER = (rules: string): string => `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${rules}COMMIT\n`;

function explainIptables(text: string, packet: PacketInput = udp): ReturnType<typeof explainPacket> {
  return explainPacket(parseRuleset(text, { format: 'iptables-save', source: 'iptables-legacy', family: 'ipv4' }), packet, ctx);
}

/** Which rule decided, as `table chain #n` or `table chain policy`. */
function decider(result: ReturnType<typeof explainPacket>): string {
  const d = result.decidedBy;
  return `${result.verdict} ${d.table} ${d.chain} ${d.position !== undefined ? `#${d.position}` : `policy ${d.policy ?? '?'}`}`;
}

describe('connmark needs a conntrack entry', () => {
  it.each([
    ['a NEW packet reads the mark CONNMARK set in mangle', MANGLE('-A PREROUTING -j CONNMARK --set-xmark 0x3/0xff\n'), '-m connmark --mark 0x3/0xff', 'NEW', 'drop filter INPUT #1'],
    ['an INVALID packet has no entry: no match', MANGLE('-A PREROUTING -j CONNMARK --set-xmark 0x3/0xff\n'), '-m connmark --mark 0x3/0xff', 'INVALID', 'accept filter INPUT policy accept'],
    ['an INVALID packet has no entry: the negation fails too', '', '-m connmark ! --mark 0x9', 'INVALID', 'accept filter INPUT policy accept'],
    ['an untracked packet has no entry: the negation fails too', RAW('-A PREROUTING -j CT --notrack\n'), '-m connmark ! --mark 0x9', 'NEW', 'accept filter INPUT policy accept'],
    ['CONNMARK in raw runs before conntrack: no effect', RAW('-A PREROUTING -j CONNMARK --set-xmark 0x3/0xff\n'), '-m connmark --mark 0x0', 'NEW', 'drop filter INPUT #1'],
    ['save-mark copies the packet mark', MANGLE('-A PREROUTING -j MARK --set-xmark 0x10/0xf0\n-A PREROUTING -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff\n'), '-m connmark --mark 0x10/0xf0', 'NEW', 'drop filter INPUT #1'],
  ])('%s', (_name, before, match, state, expected) => {
    const result = explainIptables(`${before}${FILTER(`-A INPUT ${match} -j DROP\n`)}`, { ...udp, state: state as PacketInput['state'] });
    expect(decider(result)).toBe(expected);
  });

  it.each([
    ['before conntrack there is none', RAW('-A PREROUTING -m connmark --mark 0x0 -j DROP\n'), 'accept raw PREROUTING policy accept'],
    ['after CT --zone the template reads as mark 0', RAW('-A PREROUTING -j CT --zone 5\n-A PREROUTING -m connmark --mark 0x0 -j DROP\n'), 'drop raw PREROUTING #2'],
  ])('connmark in raw: %s', (_name, text, expected) => {
    expect(decider(explainIptables(text))).toBe(expected);
  });
});

describe('CT templates and NOTRACK: the first one wins in xt', () => {
  const untracked = FILTER('-A INPUT -m conntrack --ctstate UNTRACKED -j DROP\n');
  it.each([
    ['CT --zone then --notrack: tracked', '-A PREROUTING -j CT --zone 5\n-A PREROUTING -j CT --notrack\n', 'accept filter INPUT policy accept'],
    ['--notrack then CT --zone: untracked', '-A PREROUTING -j CT --notrack\n-A PREROUTING -j CT --zone 5\n', 'drop filter INPUT #1'],
    ['plain CT (no options) also attaches a template', '-A PREROUTING -j CT\n-A PREROUTING -j NOTRACK\n', 'accept filter INPUT policy accept'],
  ])('%s', (_name, raw, expected) => {
    expect(decider(explainIptables(`${RAW(raw)}${untracked}`))).toBe(expected);
  });
});

describe('a connection in a non-default zone: the host\'s answer (zone 0) starts a new flow in OUTPUT', () => {
  const output = (raw: string): string => `${RAW(raw)}*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT DROP [0:0]\n-A OUTPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\n-A OUTPUT -m conntrack --ctstate INVALID -j REJECT\nCOMMIT\n`;
  const echo: PacketInput = { proto: 'icmp', src: '198.51.100.7', dst: '10.99.0.2', icmpType: 8, inIface: 'eth0', state: 'NEW' };
  it.each([
    ['no zone: ESTABLISHED', '', 'accept #1'],
    ['--zone 0 is the default zone: ESTABLISHED', '-A PREROUTING -j CT --zone 0\n', 'accept #1'],
    ['--zone 5: the echo reply is INVALID', '-A PREROUTING -j CT --zone 5\n', 'reject #2'],
  ])('%s', (_name, raw, expected) => {
    const reply = explainIptables(output(raw), echo).reply;
    expect(`${reply?.verdict ?? '?'} #${reply?.decidedBy.position ?? '?'}`).toBe(expected);
  });
});

describe('native nft: masked addresses, frag-off, ct zone, nftrace', () => {
  const doc = (rawExprs: unknown[][], inputExprs: unknown[][], family = 'ip'): string => JSON.stringify({ nftables: [
    { table: { family, name: 't', handle: 1 } },
    { chain: { family, table: 't', name: 'raw', handle: 1, type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' } },
    { chain: { family, table: 't', name: 'in', handle: 2, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
    ...rawExprs.map((expr, i) => ({ rule: { family, table: 't', chain: 'raw', handle: 10 + i, expr } })),
    ...inputExprs.map((expr, i) => ({ rule: { family, table: 't', chain: 'in', handle: 20 + i, expr } })),
  ] });
  const explainNft = (text: string, packet: PacketInput = udp): ReturnType<typeof explainPacket> =>
    explainPacket(parseRuleset(text, { format: 'nft-json', source: 'nft' }), packet, { localAddresses: ['10.99.0.2', '2001:db8::2'] });
  const saddrMasked = (op: string, mask: string, addr: string): unknown => ({ match: { op, left: { '&': [{ payload: { protocol: 'ip', field: 'saddr' } }, mask] }, right: addr } });
  const fragOff = (op: string): unknown => ({ match: { op, left: { '&': [{ payload: { protocol: 'ip', field: 'frag-off' } }, 8191] }, right: 0 } });
  const ctMark = { match: { op: '==', left: { ct: { key: 'mark' } }, right: 0 } };
  const untracked = { match: { op: 'in', left: { ct: { key: 'state' } }, right: 'untracked' } };

  it.each([
    ['ip saddr & 255.0.255.0 == 198.0.7.0 matches 198.51.7.x', [saddrMasked('==', '255.0.255.0', '198.0.7.0'), { drop: null }], 'drop t in #20'],
    ['ip saddr & 255.0.255.0 == 198.0.8.0 does not', [saddrMasked('==', '255.0.255.0', '198.0.8.0'), { drop: null }], 'accept t in policy accept'],
    ['ip saddr & 255.0.255.0 != 198.0.8.0 does', [saddrMasked('!=', '255.0.255.0', '198.0.8.0'), { drop: null }], 'drop t in #20'],
    ['ip frag-off & 0x1fff != 0 (-f) never matches an unfragmented packet', [fragOff('!='), { drop: null }], 'accept t in policy accept'],
    ['ip frag-off & 0x1fff == 0 (! -f) always does', [fragOff('=='), { drop: null }], 'drop t in #20'],
  ])('%s', (_name, expr, expected) => {
    const result = explainNft(doc([], [expr as unknown[]]), { ...udp, src: '198.51.7.9' });
    expect([decider(result), result.unknowns]).toEqual([expected, []]);
  });

  it('an IPv6 packet never matches an ip saddr & mask, negated or not (inet table)', () => {
    const text = doc([], [[saddrMasked('!=', '255.0.255.0', '198.0.8.0'), { drop: null }]], 'inet');
    expect(decider(explainNft(text, { ...udp, src: '2001:db8::7', dst: '2001:db8::2' }))).toBe('accept t in policy accept');
  });

  it.each([
    ['ct zone set after notrack tracks the packet again', [[{ notrack: null }], [{ mangle: { key: { ct: { key: 'zone' } }, value: 5 } }]], 'accept t in policy accept'],
    ['notrack after ct zone set is ignored', [[{ mangle: { key: { ct: { key: 'zone' } }, value: 5 } }], [{ notrack: null }]], 'accept t in policy accept'],
    ['notrack alone makes it untracked', [[{ notrack: null }]], 'drop t in #20'],
  ])('%s', (_name, raw, expected) => {
    const result = explainNft(doc(raw, [[untracked, { drop: null }]]));
    expect([decider(result), result.warnings]).toEqual([expected, []]);
  });

  it('nft ct mark does not read a CT template (unlike xt connmark)', () => {
    const text = doc([[{ mangle: { key: { ct: { key: 'zone' } }, value: 5 } }], [ctMark, { drop: null }]], []);
    expect(decider(explainNft(text))).toBe('accept t in policy accept');
  });

  it('meta nftrace set 1 and log group are known and continue; an unknown statement is flagged', () => {
    const text = doc([[{ mangle: { key: { meta: { key: 'nftrace' } }, value: 1 } }], [{ log: { group: 5 } }]],
      [[{ mangle: { key: { payload: { protocol: 'ip', field: 'dscp' } }, value: 10 } }]]);
    const result = explainNft(text);
    expect(decider(result)).toBe('accept t in policy accept');
    expect(result.warnings.join('\n')).toMatch(/ip dscp set 10 is not understood/);
    expect(result.warnings).toHaveLength(1);
  });
});

describe('iptables: targets the analyzer does not know are flagged and assumed to continue', () => {
  it('TCPOPTSTRIP in mangle', () => {
    const result = explainIptables(`${MANGLE('-A PREROUTING -p tcp -j TCPOPTSTRIP --strip-options 8\n')}${FILTER('-A INPUT -p tcp -j DROP\n')}`, { ...udp, proto: 'tcp', tcpFlags: ['SYN'] });
    expect(decider(result)).toBe('drop filter INPUT #1');
    expect(result.warnings.join('\n')).toMatch(/TCPOPTSTRIP.*not understood/);
  });

  it('dotted non-contiguous masks match on the masked octets only', () => {
    const text = FILTER('-A INPUT -s 198.0.7.0/255.0.255.0 -j DROP\n-A INPUT -d 10.0.0.2/255.0.0.255 -j REJECT\n');
    expect(decider(explainIptables(text, { ...udp, src: '198.51.7.9' }))).toBe('drop filter INPUT #1');
    expect(decider(explainIptables(text, { ...udp, src: '198.51.8.9' }))).toBe('reject filter INPUT #2');
  });
});
