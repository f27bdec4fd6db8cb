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

  // The fast path reads addresses, ports and option names in place and caches shared matches;
  // each of these spellings must come out exactly as the general parser builds it (or be left to it).
  it.each([
    '-A INPUT -s 10.1.2.3 -j ACCEPT',
    '-A INPUT -s 10.1.2.3/0 -j ACCEPT',
    '-A INPUT -s 10.1.2.3/024 -j ACCEPT',
    '-A INPUT -s 010.1.2.3/8 -j ACCEPT',
    '-A INPUT -s 10.1.2.3/33 -j ACCEPT',
    '-A INPUT -s 10.1.2.3/ -j ACCEPT',
    '-A INPUT -s 10.1.2/8 -j ACCEPT',
    '-A INPUT -s 10.1.2.256/8 -j ACCEPT',
    '-A INPUT -s 10.1.2.3/255.255.0.0 -j ACCEPT',
    '-A INPUT -s 10.0.0.0/8,192.168.0.0/16 -j ACCEPT',
    '-A INPUT -s 2001:db8::/32 -j ACCEPT',
    '-A INPUT ! -d 198.51.100.7/31 -p tcp -m tcp --dport 22 -j DROP',
    '-A INPUT -p tcp -m tcp --dport 022 -j DROP',
    '-A INPUT -p tcp -m tcp --dport 0 -j DROP',
    '-A INPUT -p tcp -m tcp ! --dport 22 -j DROP',
    '-A INPUT -p tcp -m tcp --sport 22 -j DROP',
    '-A INPUT -p udp -m udp --dport 22 -j DROP',
    '-A INPUT -p tcp -m tcp --dport 65536 -j DROP',
    '-A INPUT -p tcp -m tcp --dport 123456 -j DROP',
    '-A INPUT -p TCP -m tcp --dport 22 -j DROP',
    '-A INPUT -p 6 -m tcp --dport 22 -j DROP',
    '-A INPUT ! -p tcp -j DROP',
    '-A INPUT -i eth0 -o eth1 -j ACCEPT',
    '-A INPUT ! -i eth0 -j ACCEPT',
    '-A INPUT -i eth+ -j ACCEPT',
    '-A INPUT -j REJECT --reject-with icmp-port-unreachable',
    '-A INPUT -j REJECT --reject-with icmp-port-unreachable  ',
    '-A INPUT -j REJECT  --reject-with tcp-reset',
    '-A INPUT -j REJECT --reject-with  tcp-reset',
    '-A INPUT -j REJECT --reject-with icmp6-no-route',
    '-A INPUT -j REJECT --reject-with icmp-port-unreach',
    '-A INPUT -j REJECT --reject-with icmp-port-unreachable x',
    '-A INPUT -p tcp -m comment --comment "bench rule 7" -j ACCEPT',
    '-A U -p tcp -j ACCEPT',
    '-A INPUT -p tcp -j U',
  ])('matches the general parser for %s', (rule) => {
    // Each line twice, and next to a line on another chain, so cached matches and chains are reused.
    const text = ['*filter', ':INPUT ACCEPT [0:0]', ':U - [0:0]', rule, rule, '-A U -j RETURN', rule, 'COMMIT', ''].join('\n');
    const parse = (noFastPath: boolean): unknown => {
      try {
        const rs = parseIptablesSave(text, { family: 'ipv4', noFastPath });
        const chains = [...(rs.tables[0]?.chains.values() ?? [])];
        return { warnings: rs.warnings, rules: chains.map((c) => c.rules.map((r) => ({ ...r, matches: r.matches.map((m) => ({ ...m, text: m.text })) }))) };
      } catch (err) {
        return { error: (err as Error).message };
      }
    };
    expect(parse(false)).toEqual(parse(true));
  });
});
