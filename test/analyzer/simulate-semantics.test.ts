import { describe, expect, it } from 'vitest';
import { explainPacket, mergeRulesets, parseRuleset, type PacketInput } from '../../src/analyzer/index.ts';

const tcp = (dport: number, extra: Partial<PacketInput> = {}): PacketInput =>
  ({ proto: 'tcp', src: '192.0.2.10', dst: '198.51.100.1', sport: 40000, dport, inIface: 'eth0', ...extra });

function filter(rules: string, policy = 'ACCEPT', userChains: string[] = []): string {
  return ['*filter', `:INPUT ${policy} [0:0]`, ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]',
    ...userChains.map((c) => `:${c} - [0:0]`), rules.trim(), 'COMMIT', ''].join('\n');
}

describe('chain traversal (netfilter.md §1.5)', () => {
  it('ACCEPT in a user chain ends the base chain', () => {
    const rs = parseRuleset(filter('-A INPUT -j A\n-A INPUT -j DROP\n-A A -p tcp -m tcp --dport 22 -j ACCEPT', 'ACCEPT', ['A']));
    const r = explainPacket(rs, tcp(22));
    expect(r.verdict).toBe('accept');
    expect(r.decidedBy).toMatchObject({ chain: 'A', position: 1 });
    expect(explainPacket(rs, tcp(23)).decidedBy).toMatchObject({ chain: 'INPUT', position: 2 });
  });

  it('RETURN and falling off a user chain resume after the -j', () => {
    const rs = parseRuleset(filter('-A INPUT -j A\n-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n-A A -p tcp -m tcp --dport 80 -j RETURN\n-A A -j DROP', 'DROP', ['A']));
    expect(explainPacket(rs, tcp(80)).decidedBy).toMatchObject({ chain: 'INPUT', position: 2 });
    expect(explainPacket(rs, tcp(81)).decidedBy).toMatchObject({ chain: 'A', position: 2 });
  });

  it('-g does not push a return point: RETURN from a goto chain returns past the caller', () => {
    const rs = parseRuleset(filter([
      '-A INPUT -j A', '-A INPUT -j DROP',
      '-A A -g B', '-A A -j REJECT',
      '-A B -j RETURN',
    ].join('\n'), 'ACCEPT', ['A', 'B']));
    const r = explainPacket(rs, tcp(1));
    // B returns to INPUT (after "-j A"), skipping the rest of A.
    expect(r.verdict).toBe('drop');
    expect(r.decidedBy).toMatchObject({ chain: 'INPUT', position: 2 });
  });

  it('RETURN with nothing to return to applies the base chain policy', () => {
    const rs = parseRuleset(filter('-A INPUT -g B\n-A INPUT -j ACCEPT\n-A B -j RETURN', 'DROP', ['B']));
    const r = explainPacket(rs, tcp(1));
    expect(r.verdict).toBe('drop');
    expect(r.decidedBy).toMatchObject({ chain: 'INPUT', policy: 'drop' });
  });

  it('a rule with no target only counts', () => {
    const rs = parseRuleset(filter('-A INPUT -p tcp\n-A INPUT -j DROP'));
    const r = explainPacket(rs, tcp(1));
    expect(r.decidedBy.position).toBe(2);
    expect(r.trace[0]).toMatchObject({ position: 1, matched: true, effect: 'no target (only counts)' });
  });

  it('LOG/NFLOG/TRACE do not end the chain', () => {
    const rs = parseRuleset(filter('-A INPUT -j LOG --log-prefix "in: "\n-A INPUT -j NFLOG --nflog-group 2\n-A INPUT -j DROP'));
    expect(explainPacket(rs, tcp(1)).decidedBy.position).toBe(3);
  });

  it('-f never matches an unfragmented packet; ! -f always does', () => {
    const rs = parseRuleset(filter('-A INPUT -f -j DROP\n-A INPUT ! -f -j REJECT'));
    expect(explainPacket(rs, tcp(1)).decidedBy.position).toBe(2);
  });

  it('bare -j REJECT means icmp-port-unreachable (IPv4) and icmp6-port-unreachable (IPv6)', () => {
    const v4 = explainPacket(parseRuleset(filter('-A INPUT -j REJECT')), tcp(1));
    expect(v4.rejectWith).toBe('icmp-port-unreachable');
    expect(v4.symptom.errno).toBe('ECONNREFUSED');
    const v6 = explainPacket(parseRuleset(filter('-A INPUT -j REJECT'), { family: 'ipv6' }), tcp(1, { src: '2001:db8::1', dst: '2001:db8::2' }));
    expect(v6.rejectWith).toBe('icmp6-port-unreachable');
  });

  it('DROP symptom is retransmitted SYNs then ETIMEDOUT; tcp-reset is ECONNREFUSED', () => {
    const d = explainPacket(parseRuleset(filter('-A INPUT -j DROP')), tcp(1));
    expect(d.symptom.errno).toBe('ETIMEDOUT');
    expect(d.symptom.tcpdump).toContain('Flags [S]');
    const rst = explainPacket(parseRuleset(filter('-A INPUT -p tcp -j REJECT --reject-with tcp-reset')), tcp(1));
    expect(rst.rejectWith).toBe('tcp-reset');
    expect(rst.symptom.errno).toBe('ECONNREFUSED');
    expect(rst.symptom.tcpdump).toContain('Flags [R.]');
  });

  it('IPv6 icmp6-adm-prohibited gives EACCES', () => {
    const rs = parseRuleset(filter('-A INPUT -j REJECT --reject-with icmp6-adm-prohibited'), { family: 'ipv6' });
    const r = explainPacket(rs, tcp(1, { src: '2001:db8::1', dst: '2001:db8::2' }));
    expect(r.symptom.errno).toBe('EACCES');
  });
});

describe('marks, conntrack and NAT', () => {
  it('MARK changes the mark for later rules (also across tables)', () => {
    const text = [
      '*mangle', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
      '-A PREROUTING -p tcp -m tcp --dport 22 -j MARK --set-xmark 0x1/0xffffffff', 'COMMIT',
      '*filter', ':INPUT DROP [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]',
      '-A INPUT -m mark --mark 0x1 -j ACCEPT', 'COMMIT', '',
    ].join('\n');
    const rs = parseRuleset(text);
    expect(explainPacket(rs, tcp(22)).verdict).toBe('accept');
    expect(explainPacket(rs, tcp(23)).verdict).toBe('drop');
    expect(explainPacket(rs, tcp(23, { mark: 1 })).verdict).toBe('accept');
  });

  it('raw NOTRACK makes the state UNTRACKED and skips nat', () => {
    const text = [
      '*raw', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', '-A PREROUTING -p tcp -m tcp --dport 80 -j CT --notrack', 'COMMIT',
      '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
      '-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.9.9.9:8080', 'COMMIT',
      '*filter', ':INPUT DROP [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]',
      '-A INPUT -m conntrack --ctstate UNTRACKED -j ACCEPT', 'COMMIT', '',
    ].join('\n');
    const r = explainPacket(parseRuleset(text), tcp(80));
    expect(r.verdict).toBe('accept');
    expect(r.path).toBe('local');
    expect(r.translated).toBeUndefined();
  });

  it('state matches in the raw table see no conntrack entry yet (INVALID)', () => {
    const text = ['*raw', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', '-A PREROUTING -m state --state NEW -j DROP', 'COMMIT', ''].join('\n');
    expect(explainPacket(parseRuleset(text), tcp(1)).verdict).toBe('accept');
  });

  it('REDIRECT keeps the packet local and INPUT sees the new port', () => {
    const text = [
      '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
      '-A PREROUTING -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 8080', 'COMMIT',
      '*filter', ':INPUT DROP [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]',
      '-A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT', 'COMMIT', '',
    ].join('\n');
    const r = explainPacket(parseRuleset(text), tcp(80));
    expect(r.verdict).toBe('accept');
    expect(r.translated).toMatchObject({ dport: 8080 });
    expect(r.trace.find((t) => t.chain === 'INPUT')?.effect).toContain('ACCEPT');
  });

  it('nat is consulted only for NEW connections', () => {
    const text = [
      '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', '-A INPUT -p tcp -m tcp --dport 2 -j DROP', 'COMMIT',
      '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
      '-A PREROUTING -p tcp -m tcp --dport 1 -j REDIRECT --to-ports 2', 'COMMIT', '',
    ].join('\n');
    expect(explainPacket(parseRuleset(text), tcp(1)).verdict).toBe('drop');
    expect(explainPacket(parseRuleset(text), tcp(1, { state: 'ESTABLISHED' })).verdict).toBe('accept');
  });

  it('finds a reply blocked in OUTPUT', () => {
    const text = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT DROP [0:0]', '-A OUTPUT -o lo -j ACCEPT', 'COMMIT', ''].join('\n');
    const r = explainPacket(parseRuleset(text), tcp(22));
    expect(r.verdict).toBe('accept');
    expect(r.reply?.verdict).toBe('drop');
    expect(r.reply?.packet).toMatchObject({ src: '198.51.100.1', dst: '192.0.2.10', sport: 22, dport: 40000, state: 'ESTABLISHED' });
    expect(r.symptom.errno).toBe('ETIMEDOUT');
    expect(r.warnings.join('\n')).toContain('reply');
  });
});

describe('conntrack state of a first packet when none is given', () => {
  const rs = parseRuleset(filter('-A INPUT -m conntrack --ctstate INVALID -j DROP\n-A INPUT -m conntrack --ctstate NEW -j REJECT'));
  const cases: [string, Partial<PacketInput>, string][] = [
    ['SYN is NEW', { tcpFlags: ['SYN'] }, 'reject'],
    ['bare ACK is NEW (loose pick-up)', { tcpFlags: ['ACK'] }, 'reject'],
    ['SYN-ACK is INVALID', { tcpFlags: ['SYN', 'ACK'] }, 'drop'],
    ['RST is INVALID', { tcpFlags: ['RST'] }, 'drop'],
    ['no flags is INVALID', { tcpFlags: [] }, 'drop'],
    ['explicit state wins', { tcpFlags: ['SYN', 'ACK'], state: 'NEW' }, 'reject'],
  ];
  it.each(cases)('%s', (_n, p, verdict) => {
    expect(explainPacket(rs, tcp(22, p)).verdict).toBe(verdict);
  });
  it('ICMP echo-request is NEW, echo-reply without a flow INVALID', () => {
    const icmp = (icmpType: number): PacketInput => ({ proto: 'icmp', src: '192.0.2.10', dst: '198.51.100.1', icmpType, inIface: 'eth0' });
    expect(explainPacket(rs, icmp(8)).verdict).toBe('reject');
    expect(explainPacket(rs, icmp(0)).verdict).toBe('drop');
  });
});

describe('several sources at once', () => {
  const legacy = parseRuleset(filter('-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT'), { source: 'iptables-legacy' });
  const nftDrop = parseRuleset(JSON.stringify({ nftables: [
    { table: { family: 'inet', name: 'fw', handle: 1 } },
    { chain: { family: 'inet', table: 'fw', name: 'in', handle: 1, type: 'filter', hook: 'input', prio: 10, policy: 'accept' } },
    { rule: { family: 'inet', table: 'fw', chain: 'in', handle: 4, expr: [
      { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 23 } }, { drop: null }] } },
  ] }));

  it('legacy ACCEPT then nft drop on the same hook is a drop', () => {
    const r = explainPacket(mergeRulesets(legacy, nftDrop), tcp(23));
    expect(r.verdict).toBe('drop');
    expect(r.decidedBy).toMatchObject({ source: 'nft', table: 'fw', chain: 'in', position: 4, rule: 'tcp dport 23 drop' });
    expect(r.chainVerdicts.map((c) => `${c.source}:${c.verdict}`)).toEqual(['iptables-legacy:accept', 'nft:drop']);
  });

  it('orders base chains by priority, not by input order', () => {
    const r = explainPacket(mergeRulesets(nftDrop, legacy), tcp(23));
    expect(r.chainVerdicts.map((c) => c.source)).toEqual(['iptables-legacy', 'nft']);
  });

  it('iptables-nft security chains sit at priority 150, legacy at 50', () => {
    const sec = '*security\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -j DROP\nCOMMIT\n';
    const nftSec = parseRuleset(sec, { source: 'iptables-nft' });
    const legacySec = parseRuleset(sec, { source: 'iptables-legacy' });
    const prio = (rs: ReturnType<typeof parseRuleset>): number | undefined => rs.tables[0]?.chains.get('INPUT')?.base?.priority;
    expect(prio(nftSec)).toBe(150);
    expect(prio(legacySec)).toBe(50);
    const accept100 = parseRuleset(JSON.stringify({ nftables: [
      { table: { family: 'ip', name: 't', handle: 1 } },
      { chain: { family: 'ip', table: 't', name: 'c', handle: 1, type: 'filter', hook: 'input', prio: 100, policy: 'accept' } },
      { rule: { family: 'ip', table: 't', chain: 'c', handle: 2, expr: [{ reject: { type: 'tcp reset' } }] } },
    ] }));
    // prio 100 runs after legacy security (50) but before iptables-nft security (150).
    expect(explainPacket(mergeRulesets(legacySec, accept100), tcp(1)).verdict).toBe('drop');
    expect(explainPacket(mergeRulesets(nftSec, accept100), tcp(1)).verdict).toBe('reject');
  });
});

describe('three-valued logic', () => {
  it('an unjudgeable match that could change the verdict gives unknown with both outcomes', () => {
    const rs = parseRuleset(filter('-A INPUT -p tcp -m tcp --dport 22 -m limit --limit 3/min -j ACCEPT\n-A INPUT -j DROP'));
    const r = explainPacket(rs, tcp(22));
    expect(r.verdict).toBe('unknown');
    expect(r.decidedBy.position).toBe(1);
    expect(r.unknowns).toHaveLength(1);
    expect(r.unknowns[0]).toMatchObject({ position: 1, changesVerdict: true,
      ifMatches: { verdict: 'accept' }, ifNotMatches: { verdict: 'drop', decidedBy: { position: 2 } } });
    expect(r.unknowns[0]?.reasons[0]).toContain('rate limit');
  });

  it('an unjudgeable match that cannot change the verdict leaves it known', () => {
    const rs = parseRuleset(filter('-A INPUT -m limit --limit 3/min -j LOG\n-A INPUT -m set --match-set bad src -j DROP\n-A INPUT -j DROP'));
    const r = explainPacket(rs, tcp(22));
    expect(r.verdict).toBe('drop');
    expect(r.unknowns.map((u) => u.changesVerdict)).toEqual([false, false]);
  });

  it('a failing known match decides the rule even after an unknown one', () => {
    const rs = parseRuleset(filter('-A INPUT -m owner --uid-owner 0 -p udp -j ACCEPT\n-A INPUT -j DROP'));
    const r = explainPacket(rs, tcp(22));
    expect(r.verdict).toBe('drop');
    expect(r.unknowns).toEqual([]);
  });

  it('an unknown input interface is unknown for -i eth0 but not for -i lo', () => {
    const rs = parseRuleset(filter('-A INPUT -i lo -j ACCEPT\n-A INPUT -i eth1 -j ACCEPT\n-A INPUT -j DROP'));
    const r = explainPacket(rs, { proto: 'tcp', src: '192.0.2.10', dst: '198.51.100.1', sport: 1, dport: 2 });
    expect(r.verdict).toBe('unknown');
    expect(r.unknowns.map((u) => u.position)).toEqual([2]);
    expect(explainPacket(rs, tcp(2, { inIface: 'eth0' })).verdict).toBe('drop');
    expect(explainPacket(rs, tcp(2, { inIface: 'eth1' })).verdict).toBe('accept');
  });
});
