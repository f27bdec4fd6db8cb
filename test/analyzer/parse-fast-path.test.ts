import { describe, expect, it } from 'vitest';
import { ErrorCode, WhyBlockedError } from '../../src/errors.ts';
import type { Match, Rule } from '../../src/analyzer/index.ts';
import { parseCanonicalRule } from '../../src/analyzer/iptables/parse-canonical-rule.ts';
import { parseIptablesSave } from '../../src/analyzer/iptables/parse-iptables-save.ts';
import { createPrng } from '../differential/harness/create-prng.ts';

/** Every field a caller can read, getters included (rules and address matches compute some on demand). */
function plainMatch(m: Match): unknown {
  return m.kind === 'addr' ? { kind: m.kind, field: m.field, addr: m.addr, mask: m.mask, invert: m.invert, text: m.text } : { ...m, text: m.text };
}
function plainRule(r: Rule): unknown {
  return { position: r.position, handle: r.handle, text: r.text, line: r.line, matches: r.matches.map(plainMatch), actions: r.actions,
    target: r.target, comment: r.comment, counters: r.counters };
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
    const rand = createPrng(seed).next;
    const lines = Array.from({ length: 400 }, () => randomLine(rand));
    const text = ['*filter', ':INPUT ACCEPT [0:0]', ':U - [0:0]', ...lines, 'COMMIT', ''].join('\n');
    const fast = parseIptablesSave(text, { family: 'ipv4' });
    const slow = parseIptablesSave(text, { family: 'ipv4', noFastPath: true });
    const flat = (rs: typeof fast): unknown => rs.tables[0]?.chains.get('INPUT')?.rules.map(plainRule);
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
    '-A INPUT -j REJECT --reject-with ',
    '-A INPUT -j REJECT --reject-with  ',
    '-A INPUT -j REJECT --reject-with',
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
        return { warnings: rs.warnings, rules: chains.map((c) => c.rules.map(plainRule)) };
      } catch (err) {
        return { error: (err as Error).message };
      }
    };
    expect(parse(false)).toEqual(parse(true));
  });
});

describe('canonical-rule fast path coverage', () => {
  const chains = new Set(['INPUT', 'U']);
  const accepts = (rule: string, family: 'ipv4' | 'ipv6' = 'ipv4'): boolean => {
    const line = `-A INPUT ${rule}`;
    return parseCanonicalRule(line, 9, line.length, family, chains);
  };

  // What iptables-save prints for common rules must take the fast path, or large dumps get slow again.
  it.each([
    ['plain', '-s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j ACCEPT'],
    ['negations', '! -s 10.0.0.0/8 ! -d 192.0.2.1/32 ! -i eth0 ! -p udp -j DROP'],
    ['negated port', '-p tcp -m tcp ! --dport 22 -j DROP'],
    ['dotted mask', '-s 10.0.12.0/255.0.255.0 -j ACCEPT'],
    ['two addresses', '-s 10.0.0.0/8 -d 198.51.100.0/24 -p udp -m udp --sport 53 -j ACCEPT'],
    ['interfaces', '-i eth+ -o lo -j ACCEPT'],
    ['quoted comment', '-p tcp -m tcp --dport 80 -m comment --comment "allow web, \'quoted\'" -j ACCEPT'],
    ['bare comment', '-m comment --comment plain -j RETURN'],
    ['reject', '-p tcp -j REJECT --reject-with tcp-reset'],
    ['user chain', '-p tcp -j U'],
    ['no target', '-p tcp'],
    ['five matches', '-s 10.0.0.0/8 -d 10.1.0.0/16 -i eth0 -p tcp -m tcp --dport 22 -j ACCEPT'],
  ])('takes %s', (_name, rule) => {
    expect(accepts(rule)).toBe(true);
  });

  it('takes IPv6 rules in an ip6tables dump', () => {
    expect(accepts('-s 2001:db8::/32 -p tcp -m tcp --dport 22 -j REJECT --reject-with icmp6-adm-prohibited', 'ipv6')).toBe(true);
    expect(accepts('-s 10.0.0.0/8 -j ACCEPT', 'ipv6')).toBe(false);
  });

  // Everything else is left to the general parser, which knows the full syntax and its errors.
  it.each([
    ['escaped quote in comment', '-m comment --comment "say \\"hi\\"" -j ACCEPT'],
    ['backslash in comment', '-m comment --comment "a\\\\b" -j ACCEPT'],
    ['quote inside bare comment', '-m comment --comment a"b" -j ACCEPT'],
    ['quoted value of another option', '-s "10.0.0.0/8" -j ACCEPT'],
    ['port range', '-p tcp -m tcp --dport 1:1024 -j ACCEPT'],
    ['multiport', '-p tcp -m multiport --dports 22,80 -j ACCEPT'],
    ['implicit tcp module', '-p tcp --dport 22 -j ACCEPT'],
    ['module not matching protocol', '-p udp -m tcp --dport 22 -j ACCEPT'],
    ['goto', '-g U'],
    ['target options', '-j LOG --log-prefix "x "'],
    ['address list', '-s 10.0.0.0/8,192.168.0.0/16 -j ACCEPT'],
    ['address after a match', '-p tcp -m tcp --dport 22 -s 10.0.0.0/8 -j ACCEPT'],
    ['bad address', '-s 10.0.0.300/8 -j ACCEPT'],
    ['bad port', '-p tcp -m tcp --dport 70000 -j ACCEPT'],
    ['undeclared chain target', '-j NOPE'],
    ['reject alias', '-j REJECT --reject-with icmp-port-unreach'],
    ['option after target', '-j ACCEPT -p tcp'],
    ['lone bang', '! -j ACCEPT'],
    ['option without value', '-p'],
  ])('leaves %s to the general parser', (_name, rule) => {
    expect(accepts(rule)).toBe(false);
  });

  it.each([
    ['dotted mask', '-A INPUT -s 10.0.12.0/255.0.255.0 -d 10.1.2.3/255.255.255.255 -j ACCEPT'],
    ['quote and escapes', '-A INPUT -m comment --comment "it\'s \\"x\\"" -j ACCEPT'],
    ['comment with spaces and commas', '-A INPUT -p udp -m udp --dport 53 -m comment --comment "dns, tcp too" -j ACCEPT'],
    ['tab separated', '-A INPUT\t-s 10.0.0.0/8 -j ACCEPT'],
    ['trailing spaces', '-A INPUT -s 10.0.0.0/8 -j ACCEPT   '],
    ['five matches', '-A INPUT -s 10.0.0.0/8 ! -d 10.1.0.0/16 -i eth0 -p tcp -m tcp --dport 22 -j ACCEPT'],
  ])('builds what the general parser builds for %s, with CRLF line ends too', (_name, rule) => {
    for (const eol of ['\n', '\r\n']) {
      const text = ['*filter', ':INPUT ACCEPT [0:0]', rule, rule, 'COMMIT', ''].join(eol);
      const rules = (noFastPath: boolean): unknown => parseIptablesSave(text, { family: 'ipv4', noFastPath }).tables[0]?.chains.get('INPUT')?.rules.map(plainRule);
      expect(rules(false)).toEqual(rules(true));
    }
  });

  it('builds what the general parser builds for IPv6 dumps', () => {
    const text = ['*filter', ':INPUT DROP [0:0]', ':U - [0:0]',
      '-A INPUT -s 2001:db8::/32 ! -d fe80::/10 -p tcp -m tcp --dport 22 -m comment --comment "v6 ssh" -j U',
      '-A INPUT -p ipv6-icmp -j ACCEPT', '-A U -j REJECT --reject-with icmp6-port-unreachable', 'COMMIT', ''].join('\n');
    const parse = (noFastPath: boolean): unknown => [...(parseIptablesSave(text, { family: 'ipv6', noFastPath }).tables[0]?.chains.values() ?? [])]
      .map((c) => c.rules.map(plainRule));
    expect(parse(false)).toEqual(parse(true));
  });

  // A bad line deep in a run of fast-path lines must still be reported with its own line number.
  it.each([
    ['bad address', '-A INPUT -s 10.0.0.300/8 -j DROP', '10.0.0.300/8'],
    ['bad port', '-A INPUT -p tcp -m tcp --dport 70000 -j DROP', '70000'],
    ['undeclared chain', '-A NOPE -s 10.0.0.0/8 -j DROP', 'NOPE'],
    ['unknown option', '-A INPUT -s 10.0.0.0/8 --bogus 1 -j DROP', '--bogus'],
    ['bad reject type', '-A INPUT -j REJECT --reject-with icmp-bogus', 'icmp-bogus'],
    ['unterminated quote', '-A INPUT -m comment --comment "oops -j DROP', '-A INPUT -m comment --comment "oops -j DROP'],
  ])('reports %s with its line number and token', (_name, bad, token) => {
    for (const eol of ['\n', '\r\n']) {
      const good = Array.from({ length: 60 }, (_, i) => `-A INPUT -s 10.${i}.0.0/16 -p tcp -m tcp --dport ${i + 1} -m comment --comment "rule ${i}" -j ACCEPT`);
      const text = ['*filter', ':INPUT ACCEPT [0:0]', '', ...good, bad, ...good, 'COMMIT', ''].join(eol);
      let caught: unknown;
      try { parseIptablesSave(text, { family: 'ipv4' }); } catch (err) { caught = err; }
      expect(caught).toBeInstanceOf(WhyBlockedError);
      const e = caught as WhyBlockedError;
      expect(e.code).toBe(ErrorCode.RulesetParse);
      expect(e.details).toMatchObject({ line: 64, token });
      expect(e.message).toContain('line 64');
    }
  });
});

describe('parsed iptables rules', () => {
  const text = ['# Generated by iptables-save v1.8.9', '*filter', ':INPUT ACCEPT [0:0]',
    '-A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -m comment --comment "ssh from lab" -j ACCEPT',
    '[3:180] -A INPUT -s 10.0.0.0/8 -m comment --comment "say \\"no\\"" -j DROP', 'COMMIT', ''].join('\r\n');

  it('cut text and comment from the dump, without the line end', () => {
    const [fast, slow] = parseIptablesSave(text).tables[0]?.chains.get('INPUT')?.rules ?? [];
    expect(fast?.text).toBe('-A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -m comment --comment "ssh from lab" -j ACCEPT');
    expect(fast?.comment).toBe('ssh from lab');
    expect(slow?.text).toBe('-A INPUT -s 10.0.0.0/8 -m comment --comment "say \\"no\\"" -j DROP');
    expect(slow?.comment).toBe('say "no"');
    expect(slow?.counters).toEqual({ packets: 3, bytes: 180 });
    expect(fast?.counters).toBeUndefined();
  });

  it('build their matches on first read, with bigint addresses', () => {
    const rule = parseIptablesSave(text).tables[0]?.chains.get('INPUT')?.rules[0] as Rule;
    const m = rule.matches;
    expect(rule.matches).toBe(m);
    expect(m.map((x) => x.text)).toEqual(['-s 192.0.2.0/24', '-p tcp', '--dport 22']);
    const addr = m[0] as Extract<Match, { kind: 'addr' }>;
    expect([addr.addr, addr.mask]).toEqual([0xc0000200n, 0xffffff00n]);
  });

  it('serialize to plain JSON with every field', () => {
    const rules = parseIptablesSave(text).tables[0]?.chains.get('INPUT')?.rules ?? [];
    const json = JSON.parse(JSON.stringify(rules)) as Record<string, unknown>[];
    expect(json[0]).toMatchObject({ position: 1, line: 4, comment: 'ssh from lab', target: { kind: 'accept' } });
    expect(json[0]?.['text']).toBe(rules[0]?.text);
    expect(json[0]?.['matches']).toEqual([
      { kind: 'addr', field: 'src', addr: String(0xc0000200), mask: String(0xffffff00), invert: false, text: '-s 192.0.2.0/24' },
      expect.objectContaining({ kind: 'proto', proto: 6 }), expect.objectContaining({ kind: 'ports', field: 'dport' }),
    ]);
    expect(json[1]).toMatchObject({ comment: 'say "no"', counters: { packets: 3, bytes: 180 } });
  });

  it('accept replaced match lists', () => {
    const rule = parseIptablesSave(text).tables[0]?.chains.get('INPUT')?.rules[0] as Rule;
    rule.matches = [];
    expect(rule.matches).toEqual([]);
  });
});
