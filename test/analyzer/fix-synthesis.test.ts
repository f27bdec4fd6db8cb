import { describe, expect, it } from 'vitest';
import { explainPacket, parseRuleset } from '../../src/analyzer/index.ts';
import { synthesizeFixes, type FixRequest, type FixSynthesis } from '../../src/analyzer/fix-synthesis.ts';
import { fixture } from './fixture-path.ts';

const ctx = { localAddresses: ['192.168.30.2'] };
const telnet = { proto: 'tcp', src: '192.168.30.1', dst: '192.168.30.2', sport: 49507, dport: 23 };
const seedText = fixture('seed-fedora-telnet.rules');

function iptables(lines: string[]): string {
  return ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ...lines, 'COMMIT', ''].join('\n');
}

function synth(text: string, extra: Partial<FixRequest> = {}): FixSynthesis {
  return synthesizeFixes({ rulesetText: text, format: 'iptables-save', packet: telnet, ctx, accept: {}, ...extra });
}

/** Every candidate must load as what it claims and accept the flow when re-parsed from its own text. */
function expectRoundTrip(r: FixSynthesis, req: Pick<FixRequest, 'format' | 'packet'> = { format: 'iptables-save', packet: telnet }): void {
  for (const c of r.candidates) {
    const full = parseRuleset(c.fullRulesetAfter, { format: req.format });
    expect(explainPacket(full, req.packet, ctx).verdict, c.id).toBe('accept');
    if (c.rulesetAfterFormat === 'iptables-restore') {
      const own = parseRuleset(c.rulesetAfter, { format: 'iptables-save' });
      expect(own.tables.map((t) => t.name)).toEqual([c.table]);
      expect(explainPacket(own, req.packet, ctx).verdict, c.id).toBe('accept');
    }
  }
}

const fedoraHead = [
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  '-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT',
  '-A INPUT -p icmp -j ACCEPT',
  '-A INPUT -i lo -j ACCEPT',
  '-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT',
];
const fedoraTail = ['-A FORWARD -j REJECT --reject-with icmp-host-prohibited', 'COMMIT', ''];

describe('fix synthesis for the seed incident (Fedora default + telnet ACCEPT appended after the REJECT)', () => {
  const r = synth(seedText);

  it('starts from the rejecting rule and proposes three candidates, narrowest first', () => {
    expect(r.before.verdict).toBe('reject');
    expect(r.before.decidedBy).toMatchObject({ chain: 'INPUT', position: 5 });
    expect(r.candidates.map((c) => c.id)).toEqual(['insert-narrow-accept', 'move-accept-above-blocker', 'move-blocker-below-accept']);
    expect(r.manager).toBeUndefined();
  });

  it('narrow insert: exact command, complete table text, and a blast radius of just this flow', () => {
    const c = r.candidates[0]!;
    expect(c.title).toBe('Insert an ACCEPT for 23/tcp from 192.168.30.1 just before the REJECT rule (INPUT #5)');
    expect(c.commands).toEqual(['iptables -w -I INPUT 5 -s 192.168.30.1/32 -p tcp -m tcp --dport 23 -m conntrack --ctstate NEW -j ACCEPT']);
    expect(c.rulesetAfterFormat).toBe('iptables-restore');
    expect(c.rulesetAfter).toBe([...fedoraHead,
      '-A INPUT -s 192.168.30.1/32 -p tcp -m tcp --dport 23 -m conntrack --ctstate NEW -j ACCEPT',
      '-A INPUT -j REJECT --reject-with icmp-host-prohibited',
      '-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT', ...fedoraTail].join('\n'));
    expect(c.effect.verdict).toBe('accept');
    expect(c.effect.decidedBy).toMatchObject({ chain: 'INPUT', position: 5, rule: '-A INPUT -s 192.168.30.1/32 -p tcp -m tcp --dport 23 -m conntrack --ctstate NEW -j ACCEPT' });
    expect(c.blastRadius.summary).toEqual(['opens 23/tcp from 192.168.30.1 (the requested flow)', 'no other traffic changes']);
    expect(c.uncertain).toBe(false);
  });

  it('moving the shadowed ACCEPT up: delete 6 then insert at 5, opening 23/tcp to every source', () => {
    const c = r.candidates[1]!;
    expect(c.title).toBe('Move the ACCEPT rule (INPUT #6) above the REJECT rule (INPUT #5)');
    expect(c.commands).toEqual(['iptables -w -D INPUT 6', 'iptables -w -I INPUT 5 -p tcp -m tcp --dport 23 -j ACCEPT']);
    expect(c.rulesetAfter).toBe([...fedoraHead,
      '-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT',
      '-A INPUT -j REJECT --reject-with icmp-host-prohibited', ...fedoraTail].join('\n'));
    expect(c.blastRadius.summary).toEqual(['opens 23/tcp to every source (conntrack states NEW, INVALID, UNTRACKED) (includes the requested flow)']);
  });

  it('moving the REJECT below the ACCEPT, as the seed\'s author did: positions counted after the delete', () => {
    const c = r.candidates[2]!;
    expect(c.title).toBe('Move the REJECT rule (INPUT #5) below the ACCEPT rule (INPUT #6)');
    expect(c.commands).toEqual(['iptables -w -D INPUT 5', 'iptables -w -I INPUT 6 -j REJECT --reject-with icmp-host-prohibited']);
    expect(c.rulesetAfter).toBe(r.candidates[1]!.rulesetAfter);
    expect(c.sameResultAs).toBe('move-accept-above-blocker');
    expect(c.blastRadius.summary[0]).toMatch(/^opens 23\/tcp to every source/);
    expect(c.blastRadius.weight).toBeGreaterThan(r.candidates[0]!.blastRadius.weight);
  });

  it('every candidate re-simulates to accept, also from its own restore text', () => {
    expectRoundTrip(r);
  });

  it('uses the given subnet for the narrow rule', () => {
    const s = synth(seedText, { accept: { subnet: '192.168.30.0/24' } });
    const c = s.candidates[0]!;
    expect(c.commands).toEqual(['iptables -w -I INPUT 5 -s 192.168.30.0/24 -p tcp -m tcp --dport 23 -m conntrack --ctstate NEW -j ACCEPT']);
    expect(c.blastRadius.summary).toEqual(['opens 23/tcp from 192.168.30.0/24 (the requested flow)', 'no other traffic changes']);
  });

  it.each([
    ['a subnet without the client', '10.0.0.0/8', /does not contain the client 192.168.30.1/],
    ['an IPv6 subnet for an IPv4 flow', '2001:db8::/32', /is not an IPv4 network/],
    ['garbage', 'lan', /is not an IPv4 network/],
    ['a non-contiguous mask', '192.168.0.0/255.0.255.0', /contiguous mask/],
  ])('refuses %s as a usage error', (_name, subnet, message) => {
    expect(() => synth(seedText, { accept: { subnet } })).toThrow(expect.objectContaining({ code: 'why_blocked_usage', message: expect.stringMatching(message) }));
  });
});

describe('fix synthesis on other layouts', () => {
  it('DROP policy: appends the narrow ACCEPT at the end of the chain', () => {
    const text = iptables(['-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', '-A INPUT -i lo -j ACCEPT', '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT'])
      .replace(':INPUT ACCEPT', ':INPUT DROP');
    const r = synth(text);
    expect(r.before).toMatchObject({ verdict: 'drop', decidedBy: { chain: 'INPUT', policy: 'drop' } });
    expect(r.candidates.map((c) => c.id)).toEqual(['insert-narrow-accept']);
    const c = r.candidates[0]!;
    expect(c.title).toBe('Add an ACCEPT for 23/tcp from 192.168.30.1 at the end of INPUT (its policy DROP decides now)');
    expect(c.commands).toEqual(['iptables -w -A INPUT -s 192.168.30.1/32 -p tcp -m tcp --dport 23 -m conntrack --ctstate NEW -j ACCEPT']);
    expect(c.rulesetAfter.split('\n').slice(-4)).toEqual(['-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT',
      '-A INPUT -s 192.168.30.1/32 -p tcp -m tcp --dport 23 -m conntrack --ctstate NEW -j ACCEPT', 'COMMIT', '']);
    expect(c.blastRadius.summary).toEqual(['opens 23/tcp from 192.168.30.1 (the requested flow)', 'no other traffic changes']);
    expectRoundTrip(r);
  });

  it('ACCEPT inside a user chain: moves the jump that leads to it, and the blast radius names everything the chain opens', () => {
    const text = iptables([
      '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A INPUT -s 10.0.0.0/8 -j DROP',
      '-A INPUT -j REJECT --reject-with icmp-port-unreachable',
      '-A INPUT -i eth0 -j SERVICES',
      '-A SERVICES -p tcp -m tcp --dport 22 -j ACCEPT',
      '-A SERVICES -p tcp -m tcp --dport 23 -j ACCEPT',
    ]).replace(':OUTPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]\n:SERVICES - [0:0]');
    const packet = { ...telnet, inIface: 'eth0' };
    const r = synth(text, { packet });
    expect(r.candidates.map((c) => c.id)).toEqual(['insert-narrow-accept', 'move-accept-above-blocker', 'move-blocker-below-accept']);
    const move = r.candidates[1]!;
    expect(move.title).toBe('Move the jump to SERVICES (INPUT #4) above the REJECT rule (INPUT #3)');
    expect(move.commands).toEqual(['iptables -w -D INPUT 4', 'iptables -w -I INPUT 3 -i eth0 -j SERVICES']);
    // 10.0.0.0/8 stays dropped by INPUT #2, so it is not part of what opens.
    expect(move.blastRadius.summary).toEqual([
      'opens 22, 23/tcp from every source except 10.0.0.0/8 on eth0 (conntrack states NEW, INVALID, UNTRACKED) (includes the requested flow)',
    ]);
    expect(r.candidates[0]!.blastRadius.summary).toEqual(['opens 23/tcp from 192.168.30.1 (the requested flow)', 'no other traffic changes']);
    expectRoundTrip(r, { format: 'iptables-save', packet });
  });

  it('decider inside a user chain: the narrow rule goes into that chain, moves act on the jump', () => {
    const text = iptables(['-A INPUT -j CHECKS', '-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT', '-A CHECKS -s 192.168.0.0/16 -j DROP'])
      .replace(':OUTPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]\n:CHECKS - [0:0]');
    const r = synth(text);
    expect(r.candidates.map((c) => [c.id, c.commands])).toEqual([
      ['insert-narrow-accept', ['iptables -w -I CHECKS 1 -s 192.168.30.1/32 -p tcp -m tcp --dport 23 -m conntrack --ctstate NEW -j ACCEPT']],
      ['move-accept-above-blocker', ['iptables -w -D INPUT 2', 'iptables -w -I INPUT 1 -p tcp -m tcp --dport 23 -j ACCEPT']],
      ['move-blocker-below-accept', ['iptables -w -D INPUT 1', 'iptables -w -I INPUT 2 -j CHECKS']],
    ]);
    expect(r.candidates[1]!.blastRadius.summary).toEqual(['opens 23/tcp from 192.168.0.0/16 (includes the requested flow; 23/tcp is then open to every source)']);
    expectRoundTrip(r);
  });

  it('a flow that is already accepted gets no candidates', () => {
    const r = synth(iptables(['-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT', '-A INPUT -j DROP']));
    expect(r.before.verdict).toBe('accept');
    expect(r.candidates).toEqual([]);
    expect(r.notes).toEqual(['the flow is already accepted; nothing to fix']);
  });

  it('unjudgeable matches flag every candidate as uncertain, with the reason', () => {
    const text = iptables([
      '-A INPUT -p tcp -m tcp --dport 23 -m recent --rcheck --seconds 60 --name BAD --mask 255.255.255.255 --rsource -j DROP',
      '-A INPUT -j DROP',
      '-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT',
    ]);
    const r = synth(text);
    expect(r.candidates.length).toBeGreaterThan(0);
    for (const c of r.candidates) {
      expect(c.uncertain).toBe(true);
      expect(c.uncertainty.join('\n')).toContain('filter INPUT rule 1 cannot be judged offline');
      expect(c.effect.verdict).toBe('unknown');
    }
    expect(r.candidates[0]!.blastRadius.summary[0]).toBe('may open 23/tcp from 192.168.30.1 (the requested flow; depends on rules that cannot be judged offline)');
  });

  it('IPv6: ip6tables commands with a /128 source', () => {
    const text = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]',
      '-A INPUT -p ipv6-icmp -j ACCEPT', '-A INPUT -j REJECT --reject-with icmp6-adm-prohibited', '-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT', 'COMMIT', ''].join('\n');
    const packet = { proto: 'tcp', src: '2001:db8::1', dst: '2001:db8::2', dport: 23 };
    const r = synthesizeFixes({ rulesetText: text, format: 'iptables-save', family: 'ipv6', packet, ctx: { localAddresses: ['2001:db8::2'] }, accept: {} });
    expect(r.candidates[0]!.commands).toEqual(['ip6tables -w -I INPUT 2 -s 2001:db8::1/128 -p tcp -m tcp --dport 23 -m conntrack --ctstate NEW -j ACCEPT']);
    expect(r.candidates[0]!.blastRadius.summary).toEqual(['opens 23/tcp from 2001:db8::1 (the requested flow)', 'no other traffic changes']);
    expect(r.candidates[1]!.blastRadius.summary[0]).toMatch(/^opens 23\/tcp to every source/);
  });

  it('names the manager when firewalld or ufw owns the rules', () => {
    const r = synthesizeFixes({ rulesetText: fixture('ufw.rules'), format: 'iptables-save', packet: { ...telnet, inIface: 'eth0' }, ctx, accept: {} });
    expect(r.manager).toEqual({ name: 'ufw', command: 'ufw insert 1 allow proto tcp from 192.168.30.1/32 to any port 23' });
    expect(r.notes[0]).toMatch(/^ufw manages this firewall/);
  });
});

const nftSeed = JSON.stringify({ nftables: [
  { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } },
  { table: { family: 'inet', name: 'filter', handle: 1 } },
  { chain: { family: 'inet', table: 'filter', name: 'input', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
  { rule: { family: 'inet', table: 'filter', chain: 'input', handle: 2, expr: [{ match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } }, { accept: null }] } },
  { rule: { family: 'inet', table: 'filter', chain: 'input', handle: 3, expr: [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'lo' } }, { accept: null }] } },
  { rule: { family: 'inet', table: 'filter', chain: 'input', handle: 4, expr: [{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 22 } },
    { match: { op: 'in', left: { ct: { key: 'state' } }, right: 'new' } }, { accept: null }] } },
  { rule: { family: 'inet', table: 'filter', chain: 'input', handle: 5, expr: [{ reject: { type: 'icmpx', expr: 'admin-prohibited' } }] } },
  { rule: { family: 'inet', table: 'filter', chain: 'input', handle: 6, expr: [{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 23 } }, { accept: null }] } },
] });

describe('fix synthesis on nft JSON', () => {
  const r = synthesizeFixes({ rulesetText: nftSeed, format: 'nft-json', packet: telnet, ctx, accept: {} });

  it('proposes nft commands by handle, narrowest first', () => {
    expect(r.before.verdict).toBe('reject');
    expect(r.candidates.map((c) => [c.id, c.commands])).toEqual([
      ['insert-narrow-accept', ['nft insert rule inet filter input position 5 ip saddr 192.168.30.1 tcp dport 23 ct state new accept']],
      ['move-accept-above-blocker', ['nft delete rule inet filter input handle 6', 'nft insert rule inet filter input position 5 tcp dport 23 accept']],
      ['move-blocker-below-accept', ['nft delete rule inet filter input handle 5', 'nft add rule inet filter input reject with icmpx admin-prohibited']],
    ]);
    expect(r.candidates[0]!.blastRadius.summary).toEqual(['opens 23/tcp from 192.168.30.1 (the requested flow)', 'no other traffic changes']);
    expect(r.candidates[2]!.blastRadius.summary[0]).toMatch(/^opens 23\/tcp to every source/);
  });

  it('rulesetAfter is an nft -j -f batch that flushes the chain and re-adds its rules in the new order', () => {
    const batch = JSON.parse(r.candidates[0]!.rulesetAfter) as { nftables: Record<string, { rule?: { expr: unknown[] }; chain?: unknown }>[] };
    expect(r.candidates[0]!.rulesetAfterFormat).toBe('nft-json');
    expect(batch.nftables[0]).toEqual({ flush: { chain: { family: 'inet', table: 'filter', name: 'input' } } });
    const adds = batch.nftables.slice(1).map((e) => e.add?.rule);
    expect(adds).toHaveLength(6);
    expect(adds.every((a) => a !== undefined && !('handle' in a))).toBe(true);
    expect(adds[3]?.expr).toEqual([
      { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '192.168.30.1' } },
      { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 23 } },
      { match: { op: 'in', left: { ct: { key: 'state' } }, right: 'new' } },
      { accept: null },
    ]);
    expect(adds[4]?.expr).toEqual([{ reject: { type: 'icmpx', expr: 'admin-prohibited' } }]);
  });

  it('every candidate re-simulates to accept on the edited listing', () => {
    expectRoundTrip(r, { format: 'nft-json', packet: telnet });
  });
});

describe('fix synthesis on an nft base chain with policy drop and no rules', () => {
  const listing = JSON.stringify({ nftables: [
    { table: { family: 'ip', name: 'fw', handle: 7 } },
    { chain: { family: 'ip', table: 'fw', name: 'in', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'drop' } },
  ] });
  const r = synthesizeFixes({ rulesetText: listing, format: 'nft-json', packet: { ...telnet, proto: 'udp', dport: 53 }, ctx, accept: { subnet: '192.168.30.0/24' } });

  it('appends the narrow rule with nft add rule, and the batch re-creates the chain content', () => {
    expect(r.before).toMatchObject({ verdict: 'drop', decidedBy: { table: 'fw', chain: 'in', policy: 'drop' } });
    expect(r.candidates.map((c) => [c.id, c.commands])).toEqual([
      ['insert-narrow-accept', ['nft add rule ip fw in ip saddr 192.168.30.0/24 udp dport 53 ct state new accept']],
    ]);
    const c = r.candidates[0]!;
    expect(JSON.parse(c.rulesetAfter)).toEqual({ nftables: [
      { flush: { chain: { family: 'ip', table: 'fw', name: 'in' } } },
      { add: { rule: { family: 'ip', table: 'fw', chain: 'in', expr: [
        { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: { prefix: { addr: '192.168.30.0', len: 24 } } } },
        { match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: 53 } },
        { match: { op: 'in', left: { ct: { key: 'state' } }, right: 'new' } },
        { accept: null },
      ] } } },
    ] });
    expect(c.blastRadius.summary).toEqual(['opens 53/udp from 192.168.30.0/24 (the requested flow)', 'no other traffic changes']);
    expectRoundTrip(r, { format: 'nft-json', packet: { ...telnet, proto: 'udp', dport: 53 } });
  });
});
