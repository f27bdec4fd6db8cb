import { describe, expect, it } from 'vitest';
import { explainPacket, parseRuleset, type PacketInput } from '../../src/analyzer/index.ts';

/** One `ip t c` input chain, policy accept, whose single rule drops; expressions as `nft -j` 1.0.6 prints them. */
function dropsWith(expr: unknown[], p: Partial<PacketInput> = {}): string {
  const rs = parseRuleset(JSON.stringify({ nftables: [
    { table: { family: 'ip', name: 't', handle: 1 } },
    { chain: { family: 'ip', table: 't', name: 'c', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
    { rule: { family: 'ip', table: 't', chain: 'c', handle: 2, expr: [...expr, { drop: null }] } },
  ] }));
  return explainPacket(rs, { proto: 'tcp', src: '10.99.0.227', dst: '203.0.113.10', sport: 53, dport: 54, inIface: 'eth0', ...p }).verdict;
}

const flags = { payload: { protocol: 'tcp', field: 'flags' } };
const ctState = { ct: { key: 'state' } };
const m = (op: string, left: unknown, right: unknown): unknown => ({ match: { op, left, right } });

describe('nft JSON shapes and their kernel meaning (test/differential/FINDINGS.md)', () => {
  const cases: [string, unknown, Partial<PacketInput>, string][] = [
    ['ct state != invalid|untracked is a whole-word inequality: matches INVALID too', m('!=', ctState, { '|': ['invalid', 'untracked'] }), { state: 'INVALID', tcpFlags: ['SYN', 'ACK'] }, 'drop'],
    ['ct state != { invalid, untracked } is "none of"', m('!=', ctState, { set: ['invalid', 'untracked'] }), { state: 'INVALID', tcpFlags: ['SYN', 'ACK'] }, 'accept'],
    ['ct state != { invalid, untracked } on NEW', m('!=', ctState, { set: ['invalid', 'untracked'] }), {}, 'drop'],
    ['ct state established,new (op in) is any-of', m('in', ctState, ['established', 'new']), {}, 'drop'],
    ['ct state == new|established never equals one state', m('==', ctState, { '|': ['new', 'established'] }), {}, 'accept'],
    ['tcp flags fin,syn,ack,urg (op in) is any bit', m('in', flags, ['fin', 'syn', 'ack', 'urg']), { tcpFlags: ['ACK'] }, 'drop'],
    ['tcp flags syn (op in) misses a bare RST', m('in', flags, 'syn'), { tcpFlags: ['RST'] }, 'accept'],
    ['tcp flags ! psh (op !) is "none of these bits"', m('!', flags, 'psh'), {}, 'drop'],
    ['tcp flags ! psh misses PSH-ACK', m('!', flags, 'psh'), { tcpFlags: ['PSH', 'ACK'] }, 'accept'],
    ['ct state ! established,related', m('!', ctState, ['established', 'related']), {}, 'drop'],
    ['tcp flags { syn, ack } is exact membership', m('==', flags, { set: ['syn', 'ack'] }), { tcpFlags: ['SYN', 'ACK'] }, 'accept'],
    ['tcp flags { syn, ack } matches a lone SYN', m('==', flags, { set: ['syn', 'ack'] }), {}, 'drop'],
    ['tcp flags != 0x12 (SYN-ACK) on a SYN', m('!=', flags, 18), {}, 'drop'],
    ['tcp flags & (fin|syn|rst|ack) == syn', m('==', { '&': [flags, ['fin', 'syn', 'rst', 'ack']] }, 'syn'), {}, 'drop'],
    ['tcp dport never matches UDP (implicit l4proto dependency)', m('==', { payload: { protocol: 'tcp', field: 'dport' } }, 54), { proto: 'udp' }, 'accept'],
    ['tcp dport != 22 does not match UDP either', m('!=', { payload: { protocol: 'tcp', field: 'dport' } }, 22), { proto: 'udp' }, 'accept'],
    ['ct status dnat (op in) on a plain NEW packet', m('in', { ct: { key: 'status' } }, 'dnat'), {}, 'accept'],
    ['ct status != dnat compares the whole status word, which never equals DNAT without DNAT_DONE', m('!=', { ct: { key: 'status' } }, 'dnat'), {}, 'drop'],
    ['ct status != snat-done|dnat-done depends on which nat hooks ran: unknown', m('!=', { ct: { key: 'status' } }, { '|': ['snat-done', 'dnat-done'] }), {}, 'unknown'],
    ['meta l4proto { tcp, udp }', m('==', { meta: { key: 'l4proto' } }, { set: ['tcp', 'udp'] }), {}, 'drop'],
    ['ip saddr range', m('==', { payload: { protocol: 'ip', field: 'saddr' } }, { range: ['10.99.0.200', '10.99.0.250'] }), {}, 'drop'],
    ['th dport < 100', m('<', { payload: { protocol: 'th', field: 'dport' } }, 100), {}, 'drop'],
    ['limit is unknown', { limit: { rate: 10, per: 'second' } }, {}, 'unknown'],
    ['iifname "eth*" wildcard', m('==', { meta: { key: 'iifname' } }, 'eth*'), {}, 'drop'],
    ['iifname "eth\\\\*" is a literal asterisk', m('==', { meta: { key: 'iifname' } }, 'eth\\*'), {}, 'accept'],
  ];
  it.each(cases)('%s', (_n, expr, p, verdict) => {
    expect(dropsWith([expr], p)).toBe(verdict);
  });

  it('inet `reject` defaults to icmpx port-unreachable (per family)', () => {
    const rs = parseRuleset(JSON.stringify({ nftables: [
      { table: { family: 'inet', name: 't', handle: 1 } },
      { chain: { family: 'inet', table: 't', name: 'c', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
      { rule: { family: 'inet', table: 't', chain: 'c', handle: 2, expr: [{ reject: { type: 'icmpx', expr: 'port-unreachable' } }] } },
    ] }));
    expect(explainPacket(rs, { proto: 'udp', src: '10.0.0.2', dst: '10.0.0.1', sport: 1, dport: 2, inIface: 'eth0' }).rejectWith).toBe('icmp-port-unreachable');
    expect(explainPacket(rs, { proto: 'udp', src: '2001:db8::2', dst: '2001:db8::1', sport: 1, dport: 2, inIface: 'eth0' }).rejectWith).toBe('icmp6-port-unreachable');
  });
});

describe('routing', () => {
  const rs = parseRuleset('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n');
  it('drops a martian source (one of our addresses arriving from outside) after PREROUTING', () => {
    const r = explainPacket(rs, { proto: 'tcp', src: '10.99.0.3', dst: '10.99.0.3', sport: 1, dport: 2, inIface: 'ens5' });
    expect(r.verdict).toBe('drop');
    expect(r.decidedBy).toMatchObject({ source: 'kernel', table: 'routing', policy: 'drop' });
    expect(r.decidedBy.chain).toContain('martian');
  });
  it('reads protocol names iptables-save prints from /etc/protocols', () => {
    const gre = parseRuleset('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p gre -j DROP\n-A INPUT -p l2tp -j DROP\nCOMMIT\n');
    expect(explainPacket(gre, { proto: 47, src: '10.0.0.2', dst: '10.0.0.1', inIface: 'eth0' }).decidedBy.position).toBe(1);
    expect(explainPacket(gre, { proto: 115, src: '10.0.0.2', dst: '10.0.0.1', inIface: 'eth0' }).decidedBy.position).toBe(2);
  });
});

describe('nft mark statements', () => {
  const markRef = { meta: { key: 'mark' } };
  function finalMark(value: unknown, initial: number): boolean {
    // mangle INPUT sets the mark, filter INPUT drops mark 0x1 (as in differential seed 9103).
    const rs = parseRuleset(JSON.stringify({ nftables: [
      { table: { family: 'ip', name: 'mangle', handle: 1 } },
      { chain: { family: 'ip', table: 'mangle', name: 'INPUT', handle: 1, type: 'filter', hook: 'input', prio: -150, policy: 'accept' } },
      { rule: { family: 'ip', table: 'mangle', chain: 'INPUT', handle: 2, expr: [{ mangle: { key: markRef, value } }] } },
      { table: { family: 'ip', name: 'filter', handle: 2 } },
      { chain: { family: 'ip', table: 'filter', name: 'INPUT', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
      { rule: { family: 'ip', table: 'filter', chain: 'INPUT', handle: 3, expr: [{ match: { op: '==', left: markRef, right: 1 } }, { reject: { type: 'icmp', expr: 'port-unreachable' } }] } },
    ] }));
    return explainPacket(rs, { proto: 'tcp', src: '198.51.100.183', dst: '10.99.0.2', sport: 7940, dport: 53, inIface: 'eth0', mark: initial }).verdict === 'reject';
  }
  const cases: [string, unknown, number, boolean][] = [
    ['(mark & 0xffffff01) | 0x1 from 0', { '|': [{ '&': [markRef, 4294967041] }, 1] }, 0, true],
    ['(mark & 0xffffff01) | 0x1 keeps high bits', { '|': [{ '&': [markRef, 4294967041] }, 1] }, 0x100, false],
    ['mark | 0x1', { '|': [markRef, 1] }, 0, true],
    ['mark & 0xfffffffe clears bit 0', { '&': [markRef, 4294967294] }, 1, false],
    ['mark & 0xffffffff keeps it', { '&': [markRef, 4294967295] }, 1, true],
    ['mark ^ 0x1', { '^': [markRef, 1] }, 0, true],
    ['constant 0x1', 1, 0x55, true],
  ];
  it.each(cases)('%s', (_n, value, initial, rejected) => {
    expect(finalMark(value, initial)).toBe(rejected);
  });
});
