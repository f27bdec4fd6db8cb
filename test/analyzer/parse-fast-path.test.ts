import { describe, expect, it } from 'vitest';
import { parseIptablesSave } from '../../src/analyzer/iptables/parse-iptables-save.ts';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Canonical and near-canonical lines: the fast path must build exactly what the general parser builds. */
function randomLine(rand: () => number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const parts = ['-A INPUT'];
  if (rand() < 0.5) parts.push(`${pick(['', '! '])}-s ${pick(['10.0.0.0/8', '192.168.1.7/32', '10.1.2.3/16', '10.0.12.0/255.0.255.0'])}`);
  if (rand() < 0.2) parts.push(`${pick(['', '! '])}-d 198.51.100.0/24`);
  if (rand() < 0.3) parts.push(`${pick(['', '! '])}-i ${pick(['eth0', 'eth+', 'lo'])}`);
  const proto = pick(['tcp', 'udp', 'icmp', '']);
  if (proto) parts.push(`${pick(['', '', '! '])}-p ${proto}`);
  if ((proto === 'tcp' || proto === 'udp') && rand() < 0.7) parts.push(`-m ${proto} ${pick(['', '! '])}--dport ${pick(['22', '80', '65535', '1:1024'])}`);
  if (rand() < 0.4) parts.push(`-m comment --comment ${pick(['plain', '"two words"', '"esc \\"q\\""', '"a\\\\b"'])}`);
  const t = pick(['-j ACCEPT', '-j DROP', '-j RETURN', '-j U', '-j REJECT --reject-with icmp-host-prohibited', '-j REJECT --reject-with tcp-reset',
    '-j REJECT', '-j LOG --log-prefix "x "', '-g U', '']);
  if (t) parts.push(t);
  return parts.join(' ');
}

describe('canonical-rule fast path', () => {
  it.each([1, 2, 3])('builds the same rules as the general parser (seed %i)', (seed) => {
    const rand = prng(seed);
    const lines = Array.from({ length: 400 }, () => randomLine(rand));
    const text = ['*filter', ':INPUT ACCEPT [0:0]', ':U - [0:0]', ...lines, 'COMMIT', ''].join('\n');
    const fast = parseIptablesSave(text, { family: 'ipv4' });
    const slow = parseIptablesSave(text, { family: 'ipv4', noFastPath: true });
    const flat = (rs: typeof fast): unknown => rs.tables[0]?.chains.get('INPUT')?.rules.map((r) => ({ ...r, matches: r.matches.map((m) => ({ ...m, text: m.text })) }));
    expect(flat(fast)).toEqual(flat(slow));
    expect(fast.warnings).toEqual(slow.warnings);
  });
});
