import { describe, expect, it } from 'vitest';
import { parseRuleset, type Ruleset } from '../../src/analyzer/index.ts';
import { blastRadius, rangeToCidrs } from '../../src/analyzer/blast-radius.ts';
import { parseIp } from '../../src/analyzer/index.ts';

const head = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
const fedora = [
  '-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT',
  '-A INPUT -p icmp -j ACCEPT',
  '-A INPUT -i lo -j ACCEPT',
  '-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT',
];
const reject = '-A INPUT -j REJECT --reject-with icmp-host-prohibited';
const telnet = '-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT';

function rs(lines: string[]): Ruleset {
  return parseRuleset([...head, ...lines, 'COMMIT', ''].join('\n'), { format: 'iptables-save', family: 'ipv4' });
}

const ctx = { localAddresses: ['192.168.30.2'] };
const packet = { proto: 'tcp', src: '192.168.30.1', dst: '192.168.30.2', dport: 23 };
const seed = rs([...fedora, reject, telnet]);

describe('blast radius over ruleset-induced traffic classes', () => {
  it('a /32 insert before the REJECT changes only the requested flow', () => {
    const after = rs([...fedora, '-A INPUT -s 192.168.30.1/32 -p tcp -m tcp --dport 23 -m conntrack --ctstate NEW -j ACCEPT', reject, telnet]);
    const b = blastRadius(seed, after, ctx, { packet });
    expect(b.summary).toEqual(['opens 23/tcp from 192.168.30.1 (the requested flow)', 'no other traffic changes']);
    expect(b.changes).toHaveLength(1);
    expect(b.changes[0]).toMatchObject({ from: 'reject', to: 'accept', fromRejectWith: 'icmp-host-prohibited', requested: true,
      packet: { src: '192.168.30.1', dport: 23, state: 'NEW' } });
    expect(b.complete).toBe(true);
  });

  it('moving the catch-all REJECT below the telnet ACCEPT opens 23/tcp to every source', () => {
    const after = rs([...fedora, telnet, reject]);
    const b = blastRadius(seed, after, ctx, { packet });
    expect(b.summary).toHaveLength(1);
    expect(b.summary[0]).toMatch(/^opens 23\/tcp to every source \(conntrack states NEW, INVALID, UNTRACKED\) \(includes the requested flow\)$/);
    // ESTABLISHED/RELATED and loopback traffic were accepted before and stay so: not a change.
    expect(b.changes.every((c) => c.from === 'reject' && c.to === 'accept')).toBe(true);
    expect(b.changes.some((c) => c.packet.state === 'ESTABLISHED' || c.packet.inIface === 'lo')).toBe(false);
    expect(b.weight).toBeGreaterThan(blastRadius(seed, rs([...fedora, '-A INPUT -s 192.168.30.1/32 -p tcp -m tcp --dport 23 -j ACCEPT', reject, telnet]), ctx, { packet }).weight);
  });

  it('without a region it examines every class and still finds only the real change', () => {
    const after = rs([...fedora, telnet, reject]);
    const b = blastRadius(seed, after, ctx, { packet, region: {} });
    const narrowed = blastRadius(seed, after, ctx, { packet, region: { protos: [6], dport: [[23, 23]] } });
    expect(b.classesExamined).toBeGreaterThan(narrowed.classesExamined);
    expect(b.summary).toEqual(narrowed.summary);
  });

  it('describes a change for other sources on one interface, not as the requested flow', () => {
    const after = rs([...fedora, '-A INPUT -s 10.0.0.0/8 -i eth0 -p tcp -m tcp --dport 23 -j ACCEPT', reject, telnet]);
    const b = blastRadius(seed, after, ctx, { packet });
    expect(b.summary).toEqual(['opens 23/tcp from 10.0.0.0/8 on eth0 (conntrack states NEW, INVALID, UNTRACKED)']);
    expect(b.changes.every((c) => !c.requested)).toBe(true);
  });

  it('reports traffic that gets closed, and reject-type changes', () => {
    const before = rs(['-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT', '-A INPUT -j REJECT --reject-with icmp-port-unreachable']);
    const after = rs(['-A INPUT -s 10.0.0.0/8 -j DROP', '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT', '-A INPUT -j REJECT --reject-with tcp-reset']);
    const b = blastRadius(before, after, ctx, { packet: { ...packet, dport: 22 } });
    expect(b.summary).toEqual([
      'changes the reject type (icmp-port-unreachable → tcp-reset) of all tcp ports except 22 from every source except 10.0.0.0/8',
      'silently drops instead of rejecting all tcp ports except 22 from 10.0.0.0/8',
      'drops (was accepted) 22/tcp from 10.0.0.0/8',
      'changes the reject type (icmp-port-unreachable → tcp-reset) of other protocols from every source except 10.0.0.0/8',
      'silently drops instead of rejecting other protocols from 10.0.0.0/8',
    ]);
  });

  it('says so when nothing changes', () => {
    const b = blastRadius(seed, rs([...fedora, reject, telnet]), ctx, { packet });
    expect(b.changes).toEqual([]);
    expect(b.summary).toEqual(['no traffic changes']);
  });

  it('flags an enumeration cut short by maxClasses', () => {
    const b = blastRadius(seed, rs([...fedora, telnet, reject]), ctx, { packet, region: {}, maxClasses: 5 });
    expect(b.complete).toBe(false);
    expect(b.summary.at(-1)).toMatch(/not every class was examined/);
  });

  it('writes address ranges as the fewest CIDR blocks', () => {
    const v = (s: string): bigint => parseIp(s)?.value as bigint;
    expect(rangeToCidrs('ipv4', [v('10.0.0.0'), v('10.255.255.255')])).toEqual(['10.0.0.0/8']);
    expect(rangeToCidrs('ipv4', [v('192.168.30.1'), v('192.168.30.1')])).toEqual(['192.168.30.1']);
    expect(rangeToCidrs('ipv4', [v('10.0.0.1'), v('10.0.0.6')])).toEqual(['10.0.0.1', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6']);
    expect(rangeToCidrs('ipv6', [0n, (1n << 128n) - 1n])).toEqual(['::/0']);
  });
});
