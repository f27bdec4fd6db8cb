import { describe, expect, it } from 'vitest';
import { explainPackets, parseRuleset, type ExplainResult, type PacketInput } from '../../src/analyzer/index.ts';
import { createPrng } from '../differential/harness/create-prng.ts';


function randomRuleset(rand: () => number, rules: number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const port = (): number => 20 + Math.floor(rand() * 12);
  const lines = ['*filter', ':INPUT DROP [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':U - [0:0]'];
  const rule = (chain: string): string => {
    const parts = [`-A ${chain}`];
    if (rand() < 0.5) parts.push(`${rand() < 0.2 ? '! ' : ''}-s ${pick([10, 11])}.${Math.floor(rand() * 4)}.0.0/${pick([16, 8, 4])}`);
    const proto = pick(['tcp', 'udp', 'tcp', 'icmp', '']);
    if (proto) parts.push(`-p ${proto}`);
    if (proto === 'tcp' || proto === 'udp') {
      const r = rand();
      if (r < 0.5) parts.push(`-m ${proto} ${rand() < 0.15 ? '! ' : ''}--dport ${port()}`);
      else if (r < 0.65) parts.push(`-m ${proto} --dport ${port()}:${port() + 300}`);
      else if (r < 0.8) parts.push(`-m multiport --dports ${port()},${port()}`);
      if (rand() < 0.2) parts.push(`-m ${proto} --sport ${1000 + Math.floor(rand() * 3)}`);
    }
    if (rand() < 0.1) parts.push('-m limit --limit 1/sec');
    if (rand() < 0.15) parts.push(`-m conntrack --ctstate ${pick(['NEW', 'ESTABLISHED', 'NEW,ESTABLISHED'])}`);
    if (rand() < 0.1) parts.push(`-m mark --mark 0x${Math.floor(rand() * 3)}`);
    const t = rand();
    if (t < 0.3) parts.push('-j ACCEPT');
    else if (t < 0.5) parts.push('-j DROP');
    else if (t < 0.65) parts.push(`-j REJECT --reject-with ${pick(['icmp-port-unreachable', 'icmp-host-prohibited', 'tcp-reset'])}`);
    else if (t < 0.75 && chain === 'INPUT') parts.push(pick(['-j U', '-g U']));
    else if (t < 0.8 && chain === 'U') parts.push('-j RETURN');
    else if (t < 0.88) parts.push('-j MARK --set-xmark 0x1/0xffffffff');
    else if (t < 0.93) parts.push('-j LOG --log-prefix "x "');
    return parts.join(' ');
  };
  for (let i = 0; i < rules; i++) lines.push(rule('INPUT'));
  for (let i = 0; i < rules / 2; i++) lines.push(rule('U'));
  lines.push('COMMIT', '');
  return lines.join('\n');
}

function randomPacket(rand: () => number): PacketInput {
  const proto = ['tcp', 'udp', 'icmp'][Math.floor(rand() * 3)] as string;
  const p: PacketInput = { proto, src: `${[10, 11, 12][Math.floor(rand() * 3)]}.${Math.floor(rand() * 5)}.1.1`, dst: '10.9.9.9', inIface: 'eth0' };
  if (proto !== 'icmp') { p.sport = 1000 + Math.floor(rand() * 3); p.dport = 18 + Math.floor(rand() * 16); }
  if (rand() < 0.2) p.state = 'ESTABLISHED';
  if (rand() < 0.2) p.mark = Math.floor(rand() * 3);
  return p;
}

/** Everything but the non-matching trace lines, which the index is allowed to skip. */
function comparable(r: ExplainResult): unknown {
  return { ...r, trace: r.trace.filter((t) => t.matched !== false), reply: r.reply && { ...r.reply, trace: r.reply.trace.filter((t) => t.matched !== false) } };
}

describe('rule index', () => {
  it.each([1, 2, 3, 4, 5, 6])('gives the same results as the linear walk (seed %i)', (seed) => {
    const rand = createPrng(seed).next;
    const text = randomRuleset(rand, 120);
    const packets = Array.from({ length: 300 }, () => randomPacket(rand));
    // Separate parses: parsed rules build their match lists on first use, and the index must read
    // the not-yet-built form the same way the linear walk reads the built one.
    const linear = explainPackets(parseRuleset(text), packets, undefined, { useIndex: false });
    const indexed = explainPackets(parseRuleset(text), packets, undefined, { useIndex: true });
    expect(indexed.map(comparable)).toEqual(linear.map(comparable));
    // The index must actually skip rules, or this test proves nothing.
    const visited = (rs2: ExplainResult[]): number => rs2.reduce((n, r) => n + r.trace.length, 0);
    expect(visited(indexed)).toBeLessThan(visited(linear));
  });

  it('covers every verdict kind across the random cases', () => {
    const rand = createPrng(99).next;
    const rs = parseRuleset(randomRuleset(rand, 120));
    const verdicts = new Set(explainPackets(rs, Array.from({ length: 300 }, () => randomPacket(rand))).map((r) => r.verdict));
    expect([...verdicts].sort()).toEqual(['accept', 'drop', 'reject', 'unknown']);
  });
});
