import { describe, expect, it } from 'vitest';
import { explainPacket, parseRuleset } from '../../src/analyzer/index.ts';

// Analyzer fixes for disagreements the kernel differential harness found (test/differential/FINDINGS.md).

const ctx = { localAddresses: ['10.99.0.2'], interfaces: [{ name: 'eth0', addresses: ['10.99.0.2/32'] }] };
const syn = { proto: 'tcp', src: '198.51.100.7', dst: '10.99.0.2', sport: 40000, dport: 22, inIface: 'eth0', state: 'NEW' } as const;
const chains = (result: ReturnType<typeof explainPacket>): string[] => result.chainVerdicts.map((c) => `${c.table} ${c.chain}`);

const EMPTY_NAT = '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n';
const filter = (rules: string): string => `*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${rules}COMMIT\n`;

describe('nat chains need conntrack (regressions/iptables-legacy-seedfixture-tcp-22.json)', () => {
  it.each([
    ['no rule needs conntrack', filter('-A INPUT -p tcp -j ACCEPT\n'), ['filter INPUT']],
    ['a state match enables it', filter('-A INPUT -m state --state NEW -j ACCEPT\n'), ['nat PREROUTING', 'filter INPUT', 'nat INPUT']],
    ['a conntrack match enables it', filter('-A INPUT -m conntrack --ctstate NEW -j ACCEPT\n'), ['nat PREROUTING', 'filter INPUT', 'nat INPUT']],
  ])('iptables: %s', (_name, rules, expected) => {
    const ruleset = parseRuleset(`${EMPTY_NAT}${rules}`, { format: 'iptables-save', source: 'iptables-legacy', family: 'ipv4' });
    expect(chains(explainPacket(ruleset, syn, ctx))).toEqual(expected);
  });

  it('a DNAT rule enables conntrack itself, so nat PREROUTING runs and translates', () => {
    const nat = EMPTY_NAT.replace('COMMIT', '-A PREROUTING -p tcp -m tcp --dport 22 -j DNAT --to-destination 10.99.0.2:2222\nCOMMIT');
    const result = explainPacket(parseRuleset(`${nat}${filter('-A INPUT -p tcp -m tcp --dport 2222 -j ACCEPT\n')}`, { format: 'iptables-save', source: 'iptables-legacy', family: 'ipv4' }), syn, ctx);
    expect([result.verdict, result.decidedBy.chain, chains(result)]).toEqual(['accept', 'INPUT', ['nat PREROUTING', 'filter INPUT', 'nat INPUT']]);
  });

  it('nft: an ip nat chain is bypassed without ct users, and runs when an ip6-only table uses ct only for IPv6', () => {
    const doc = (ctFamily: string, ctRule: boolean): string => JSON.stringify({ nftables: [
      { table: { family: 'ip', name: 'nat', handle: 1 } },
      { chain: { family: 'ip', table: 'nat', name: 'pre', handle: 1, type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
      { table: { family: 'ip', name: 'filter', handle: 2 } },
      { chain: { family: 'ip', table: 'filter', name: 'in', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
      { table: { family: ctFamily, name: 'other', handle: 3 } },
      { chain: { family: ctFamily, table: 'other', name: 'in', handle: 1, type: 'filter', hook: 'input', prio: 10, policy: 'accept' } },
      ...(ctRule ? [{ rule: { family: ctFamily, table: 'other', chain: 'in', handle: 2, expr: [{ match: { op: 'in', left: { ct: { key: 'state' } }, right: 'invalid' } }, { drop: null }] } }] : []),
    ] });
    const explain = (ctFamily: string, ctRule: boolean): string[] => chains(explainPacket(parseRuleset(doc(ctFamily, ctRule), { format: 'nft-json', source: 'nft' }), syn, ctx));
    expect(explain('ip', false)).toEqual(['filter in', 'other in']);
    expect(explain('ip', true)).toEqual(['nat pre', 'filter in', 'other in']);
    expect(explain('ip6', true)).toEqual(['filter in']);
    expect(explain('inet', true)).toEqual(['nat pre', 'filter in', 'other in']);
  });

  it('nft: a nat chain that drops is bypassed too while nothing uses conntrack (regressions/nft-nat-drop-without-conntrack-tcp-22.json)', () => {
    const doc = (withCt: boolean): string => JSON.stringify({ nftables: [
      { table: { family: 'ip', name: 'nat', handle: 1 } },
      { chain: { family: 'ip', table: 'nat', name: 'pre', handle: 1, type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
      { rule: { family: 'ip', table: 'nat', chain: 'pre', handle: 2, expr: [{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 22 } }, { drop: null }] } },
      ...(withCt ? [{ rule: { family: 'ip', table: 'nat', chain: 'pre', handle: 3, expr: [{ match: { op: 'in', left: { ct: { key: 'state' } }, right: 'invalid' } }, { accept: null }] } }] : []),
    ] });
    const explain = (withCt: boolean): string => explainPacket(parseRuleset(doc(withCt), { format: 'nft-json', source: 'nft' }), syn, ctx).verdict;
    expect(explain(false)).toBe('accept');
    expect(explain(true)).toBe('drop');
  });
});

describe('the answer to an untracked request (regressions/iptables-legacy-seedfixture-tcp-80.json)', () => {
  const output = (state: string): string => `*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -j CT --notrack\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT DROP [0:0]\n-A OUTPUT -m conntrack --ctstate ${state} -j ACCEPT\nCOMMIT\n`;
  const replyVerdict = (state: string, packet: Parameters<typeof explainPacket>[1]): string | undefined =>
    explainPacket(parseRuleset(output(state), { format: 'iptables-save', source: 'iptables-legacy', family: 'ipv4' }), packet, ctx).reply?.verdict;

  it.each([
    ['a SYN-ACK is INVALID', { ...syn, tcpFlags: ['SYN'], state: 'UNTRACKED' as const }, 'INVALID'],
    ['the ACK answering a bare ACK is NEW', { ...syn, tcpFlags: ['ACK'], state: 'UNTRACKED' as const }, 'NEW'],
    ['an echo reply is INVALID', { proto: 'icmp', src: '198.51.100.7', dst: '10.99.0.2', icmpType: 8, inIface: 'eth0', state: 'UNTRACKED' as const }, 'INVALID'],
    ['a UDP answer is NEW', { proto: 'udp', src: '198.51.100.7', dst: '10.99.0.2', sport: 5000, dport: 53, inIface: 'eth0', state: 'UNTRACKED' as const }, 'NEW'],
  ])('starts a new flow in OUTPUT: %s', (_name, packet, state) => {
    expect(replyVerdict(state, packet)).toBe('accept');
    expect(replyVerdict('UNTRACKED', packet)).toBe('drop');
  });
});

describe('nft fib type is addrtype over the host addresses (IPv4); other fib keys stay unknown', () => {
  const doc = (left: unknown, op: string, right: unknown): string => JSON.stringify({ nftables: [
    { table: { family: 'inet', name: 'f', handle: 1 } },
    { chain: { family: 'inet', table: 'f', name: 'in', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
    { rule: { family: 'inet', table: 'f', chain: 'in', handle: 2, expr: [{ match: { op, left, right } }, { drop: null }] } },
  ] });
  const host = { localAddresses: ['10.99.0.2', '2001:db8:99::2'], interfaces: [{ name: 'eth0', addresses: ['10.99.0.2/32', '2001:db8:99::2/128'] }] };
  const explain = (left: unknown, op: string, right: unknown, packet: Parameters<typeof explainPacket>[1] = syn): ReturnType<typeof explainPacket> =>
    explainPacket(parseRuleset(doc(left, op, right), { format: 'nft-json', source: 'nft' }), packet, host);
  const fibType = (flag: string): unknown => ({ fib: { result: 'type', flags: [flag] } });

  it.each([
    ['daddr type local: the destination is ours', fibType('daddr'), '==', 'local', 'drop'],
    ['daddr type != local', fibType('daddr'), '!=', 'local', 'accept'],
    ['saddr type { unicast, broadcast }', fibType('saddr'), '==', { set: ['unicast', 'broadcast'] }, 'drop'],
    ['saddr type local: a spoofed source is not ours', fibType('saddr'), '==', 'local', 'accept'],
    ['daddr type multicast', fibType('daddr'), '==', 'multicast', 'accept'],
  ])('%s', (_name, left, op, right, verdict) => {
    const result = explain(left, op, right);
    expect([result.verdict, result.unknowns.length]).toEqual([verdict, 0]);
  });

  it.each([
    ['daddr type local: our own address hits its local route', 'daddr', '==', 'local', 'drop'],
    ['daddr type != local', 'daddr', '!=', 'local', 'accept'],
    ['daddr type { unicast, multicast }', 'daddr', '==', { set: ['unicast', 'multicast'] }, 'accept'],
  ])('IPv6 %s', (_name, flag, op, right, verdict) => {
    const result = explain(fibType(flag), op, right, { ...syn, src: '2001:db8:5::7', dst: '2001:db8:99::2' });
    expect([result.verdict, result.unknowns.length]).toEqual([verdict, 0]);
  });

  it('IPv6 fib type of a foreign address and a reverse-path check (saddr . iif oif) need routes: unknown, both outcomes offered', () => {
    const v6 = { ...syn, src: '2001:db8:5::7', dst: '2001:db8:99::2' };
    expect(explain(fibType('saddr'), '==', 'unicast', v6).unknowns).toHaveLength(1);
    const rpf = explain({ fib: { result: 'oif', flags: ['saddr', 'iif'] } }, '==', false);
    expect(rpf.unknowns.map((u) => [u.ifMatches?.verdict, u.ifNotMatches?.verdict])).toEqual([['drop', 'accept']]);
  });
});

describe('nft ct status: bit tests, and whole-word compares judged only when the word cannot be equal', () => {
  const doc = (op: string, right: unknown, nat: boolean): string => JSON.stringify({ nftables: [
    { table: { family: 'ip', name: 'f', handle: 1 } },
    ...(nat ? [
      { chain: { family: 'ip', table: 'f', name: 'pre', handle: 1, type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
      { rule: { family: 'ip', table: 'f', chain: 'pre', handle: 5, expr: [{ dnat: { addr: '10.99.0.3' } }] } },
    ] : []),
    { chain: { family: 'ip', table: 'f', name: 'in', handle: 2, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
    { rule: { family: 'ip', table: 'f', chain: 'in', handle: 3, expr: [{ match: { op, left: { ct: { key: 'status' } }, right } }, { drop: null }] } },
  ] });
  const host = { localAddresses: ['10.99.0.2', '10.99.0.3'], interfaces: [{ name: 'eth0', addresses: ['10.99.0.2/32', '10.99.0.3/32'] }] };
  const explain = (op: string, right: unknown, nat: boolean, packet: Parameters<typeof explainPacket>[1] = syn): ReturnType<typeof explainPacket> =>
    explainPacket(parseRuleset(doc(op, right, nat), { format: 'nft-json', source: 'nft' }), packet, host);

  it.each([
    ['`ct status dnat` after a DNAT', 'in', 'dnat', true, 'drop', 0],
    ['`ct status dnat` without one', 'in', 'dnat', false, 'accept', 0],
    ['`ct status != snat`: SNAT never comes without SNAT_DONE', '!=', 'snat', false, 'drop', 0],
    ['`ct status == dnat` even after a DNAT (DNAT_DONE is set too)', '==', 'dnat', true, 'accept', 0],
    ['`ct status != confirmed`: a first packet is not confirmed in INPUT', '!=', 'confirmed', false, 'drop', 0],
    ['`ct status == dnat|dnat-done`: depends on which nat hooks ran', '==', { '|': ['dnat', 'dnat-done'] }, true, 'unknown', 1],
  ])('%s', (_name, op, right, nat, verdict, unknowns) => {
    const result = explain(op, right, nat);
    expect([result.verdict, result.unknowns.length]).toEqual([verdict, unknowns]);
  });

  it('an invalid packet has no conntrack: every ct status match fails', () => {
    const result = explain('!=', 'snat', false, { ...syn, state: 'INVALID' });
    expect([result.verdict, result.unknowns.length]).toEqual(['accept', 0]);
  });
});

describe('NAT status bits and nat INPUT SNAT (FINDINGS.md "ct status", "The security table\'s place")', () => {
  it('REDIRECT to the address already targeted changes no tuple: `ct status dnat` stays false', () => {
    const doc = (redirect: Record<string, unknown>): string => JSON.stringify({ nftables: [
      { table: { family: 'ip', name: 'nat', handle: 1 } },
      { chain: { family: 'ip', table: 'nat', name: 'pre', handle: 1, type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
      { rule: { family: 'ip', table: 'nat', chain: 'pre', handle: 2, expr: [{ redirect: redirect }] } },
      { table: { family: 'ip', name: 'filter', handle: 2 } },
      { chain: { family: 'ip', table: 'filter', name: 'in', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'drop' } },
      { rule: { family: 'ip', table: 'filter', chain: 'in', handle: 2, expr: [{ match: { op: 'in', left: { ct: { key: 'status' } }, right: 'dnat' } }, { accept: null }] } },
    ] });
    const verdict = (redirect: Record<string, unknown>): string =>
      explainPacket(parseRuleset(doc(redirect), { format: 'nft-json', source: 'nft' }), syn, ctx).verdict;
    expect(verdict({})).toBe('drop');
    expect(verdict({ port: 2222 })).toBe('accept');
  });

  it('iptables-nft runs security INPUT after nat INPUT, so it sees the SNAT source; legacy runs it before', () => {
    const text = [
      '*security', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', '-A INPUT -s 192.0.2.77/32 -j DROP', 'COMMIT',
      '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT DROP [0:0]', '-A OUTPUT -d 198.51.100.7/32 -j ACCEPT', 'COMMIT',
      '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
      '-A INPUT -p tcp -j SNAT --to-source 192.0.2.77', 'COMMIT', '',
    ].join('\n');
    const explain = (source: string): ReturnType<typeof explainPacket> =>
      explainPacket(parseRuleset(text, { format: 'iptables-save', source, family: 'ipv4' }), syn, ctx);
    expect(explain('iptables-nft').verdict).toBe('drop');
    const legacy = explain('iptables-legacy');
    expect(legacy.verdict).toBe('accept');
    // The answer is un-NATed at nat OUTPUT, before filter OUTPUT: it is addressed to the client again.
    expect(legacy.reply?.verdict).toBe('accept');
  });
});
