import { describe, expect, it } from 'vitest';
import { explainPacket, parseIpsetSave, parseRuleset, type HostContext, type PacketInput } from '../../src/analyzer/index.ts';
import { ErrorCode, WhyBlockedError } from '../../src/errors.ts';

// Canonical `ipset save` text (kernel 6.18, ipset 7.17), trimmed of hashsize/initval noise where irrelevant.
const SAVE = `create ban hash:ip family inet hashsize 1024 maxelem 65536 timeout 300 bucketsize 12 initval 0xf000c8cd
add ban 203.0.113.7 timeout 120
add ban 203.0.113.8 timeout 0
create nets hash:net family inet hashsize 1024 maxelem 65536 counters bucketsize 12 initval 0xb7d0ed0a
add nets 10.1.0.0/16 nomatch packets 0 bytes 0
add nets 10.0.0.0/8 packets 0 bytes 0
add nets 10.1.2.0/24 packets 0 bytes 0
create nets6 hash:net family inet6 hashsize 1024 maxelem 65536 comment bucketsize 12 initval 0x30f78127
add nets6 2001:db8::/32 comment "lab v6"
create svc hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0xa6c1676b
add svc 192.0.2.1,tcp:80
add svc 192.0.2.1,udp:53
add svc 192.0.2.1,icmp:echo-request
add svc 192.0.2.1,gre:0
create trio hash:ip,port,ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0xafa30743
add trio 192.0.2.1,tcp:22,10.9.9.9
create np hash:net,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x56aa19e4
add np 10.0.0.0/24,udp:53
create ports bitmap:port range 1000-2000
add ports 1500
create masked hash:ip family inet hashsize 1024 maxelem 65536 netmask 24 bucketsize 12 initval 0x125a95db
add masked 10.5.5.0
create macs hash:mac hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1
add macs 02:00:00:00:00:01
create both list:set size 8
add both ban
add both nets
`;
const ipsets = parseIpsetSave(SAVE);

function rules(lines: string[], family: 'ipv4' | 'ipv6' = 'ipv4'): ReturnType<typeof parseRuleset> {
  return parseRuleset(`*filter\n:INPUT ACCEPT [0:0]\n${lines.map((l) => `-A INPUT ${l}`).join('\n')}\nCOMMIT\n`, { format: 'iptables-save', family });
}

function verdict(rule: string, p: PacketInput, ctx: HostContext | undefined = { ipsets }): string {
  return explainPacket(rules([`${rule} -j DROP`]), p, ctx).verdict;
}

const tcp = (src: string, dst: string, dport: number, sport = 40000): PacketInput => ({ proto: 'tcp', src, dst, dport, sport });

describe('ipset save parsing', () => {
  it('reads every set with its type, family and elements', () => {
    expect([...ipsets.sets.keys()]).toEqual(['ban', 'nets', 'nets6', 'svc', 'trio', 'np', 'ports', 'masked', 'macs', 'both']);
    expect(ipsets.sets.get('nets6')?.family).toBe('ipv6');
    expect(ipsets.sets.get('ports')?.family).toBe('any');
    expect(ipsets.sets.get('nets')?.elements.map((e) => e.nomatch)).toEqual([true, false, false]);
    expect(ipsets.sets.get('ban')?.elements.map((e) => e.timeoutS)).toEqual([120, undefined]);
  });

  it('splits a hash:net range into the CIDR blocks the kernel stores', () => {
    const s = parseIpsetSave('create r hash:net\nadd r 10.0.0.1-10.0.0.6\n').sets.get('r');
    expect(s?.elements.map((e) => (e.parts[0]?.kind === 'ip' ? e.parts[0].prefix : -1))).toEqual([32, 31, 31, 32]);
  });

  const bad: [string, string, number, string][] = [
    ['unknown command', 'flush x\n', 1, 'flush'],
    ['unknown type', 'create x hash:bogus\n', 1, 'hash:bogus'],
    ['create without type', 'create x\n', 1, 'create'],
    ['unknown create option', 'create x hash:ip bogus 1\n', 1, 'bogus'],
    ['create option without value', 'create x hash:ip timeout\n', 1, 'timeout'],
    ['bad family', 'create x hash:ip family ipv4\n', 1, 'ipv4'],
    ['add before create', 'add x 10.0.0.1\n', 1, 'x'],
    ['bad address', 'create x hash:ip\nadd x 10.0.0.300\n', 2, '10.0.0.300'],
    ['IPv6 in an inet set', 'create x hash:ip\nadd x 2001:db8::1\n', 2, '2001:db8::1'],
    ['prefix too long', 'create x hash:net\nadd x 10.0.0.0/33\n', 2, '10.0.0.0/33'],
    ['too few parts', 'create x hash:ip,port\nadd x 10.0.0.1\n', 2, '10.0.0.1'],
    ['bad port', 'create x hash:ip,port\nadd x 10.0.0.1,tcp:70000\n', 2, 'tcp:70000'],
    ['bad port protocol', 'create x hash:ip,port\nadd x 10.0.0.1,tcpx:80\n', 2, 'tcpx:80'],
    ['port on a portless protocol', 'create x hash:ip,port\nadd x 10.0.0.1,gre:5\n', 2, 'gre:5'],
    ['bad icmp name', 'create x hash:ip,port\nadd x 10.0.0.1,icmp:pingg\n', 2, 'icmp:pingg'],
    ['nomatch on hash:ip', 'create x hash:ip\nadd x 10.0.0.1 nomatch\n', 2, 'nomatch'],
    ['unknown element option', 'create x hash:ip\nadd x 10.0.0.1 ttl 5\n', 2, 'ttl'],
    ['bad timeout', 'create x hash:ip timeout 60\nadd x 10.0.0.1 timeout soon\n', 2, 'soon'],
    ['bitmap:port without range', 'create x bitmap:port\n', 1, 'bitmap:port'],
    ['bitmap port out of range', 'create x bitmap:port range 1-10\nadd x 11\n', 2, '11'],
    ['set created twice', 'create x hash:ip\ncreate x hash:ip\n', 2, 'x'],
  ];
  it.each(bad)('%s is an error naming the line and token', (_name, text, line, token) => {
    let caught: unknown;
    try { parseIpsetSave(text); } catch (err) { caught = err; }
    expect(caught).toBeInstanceOf(WhyBlockedError);
    const e = caught as WhyBlockedError;
    expect(e.code).toBe(ErrorCode.RulesetParse);
    expect(e.message).toContain(`ipset line ${line}:`);
    expect(e.message).toContain(`"${token}"`);
    expect(e.details).toMatchObject({ line, token });
  });
});

describe('-m set judged from ipset contents', () => {
  const cases: [string, string, PacketInput, string][] = [
    ['hash:ip src hit', '-m set --match-set ban src', tcp('203.0.113.7', '192.0.2.1', 22), 'drop'],
    ['hash:ip src miss', '-m set --match-set ban src', tcp('203.0.113.9', '192.0.2.1', 22), 'accept'],
    ['hash:ip dst direction', '-m set --match-set ban dst', tcp('203.0.113.7', '192.0.2.1', 22), 'accept'],
    ['negated hit', '-m set ! --match-set ban src', tcp('203.0.113.7', '192.0.2.1', 22), 'accept'],
    ['negated miss', '-m set ! --match-set ban src', tcp('203.0.113.9', '192.0.2.1', 22), 'drop'],
    ['hash:net wide entry', '-m set --match-set nets src', tcp('10.2.0.1', '192.0.2.1', 22), 'drop'],
    ['hash:net nomatch exception', '-m set --match-set nets src', tcp('10.1.9.9', '192.0.2.1', 22), 'accept'],
    ['hash:net more specific than nomatch', '-m set --match-set nets src', tcp('10.1.2.3', '192.0.2.1', 22), 'drop'],
    ['--return-nomatch: nomatch entry matches', '-m set --match-set nets src --return-nomatch', tcp('10.1.9.9', '192.0.2.1', 22), 'drop'],
    ['--return-nomatch: plain entry does not', '-m set --match-set nets src --return-nomatch', tcp('10.2.0.1', '192.0.2.1', 22), 'accept'],
    ['hash:ip,port dst,dst tcp', '-m set --match-set svc dst,dst', tcp('10.0.0.1', '192.0.2.1', 80), 'drop'],
    ['hash:ip,port wrong protocol', '-m set --match-set svc dst,dst', { proto: 'udp', src: '10.0.0.1', dst: '192.0.2.1', dport: 80, sport: 1 }, 'accept'],
    ['hash:ip,port udp', '-m set --match-set svc dst,dst', { proto: 'udp', src: '10.0.0.1', dst: '192.0.2.1', dport: 53, sport: 1 }, 'drop'],
    ['hash:ip,port icmp type', '-m set --match-set svc dst,dst', { proto: 'icmp', src: '10.0.0.1', dst: '192.0.2.1', icmpType: 8 }, 'drop'],
    ['hash:ip,port icmp other type', '-m set --match-set svc dst,dst', { proto: 'icmp', src: '10.0.0.1', dst: '192.0.2.1', icmpType: 13 }, 'accept'],
    ['hash:ip,port portless protocol', '-m set --match-set svc dst,dst', { proto: 'gre', src: '10.0.0.1', dst: '192.0.2.1' }, 'drop'],
    ['too few directions never match', '-m set --match-set svc dst', tcp('10.0.0.1', '192.0.2.1', 80), 'accept'],
    ['extra directions are ignored', '-m set --match-set ban src,dst,dst', tcp('203.0.113.7', '192.0.2.1', 22), 'drop'],
    ['hash:ip,port,ip', '-m set --match-set trio dst,dst,src', tcp('10.9.9.9', '192.0.2.1', 22), 'drop'],
    ['hash:net,port', '-m set --match-set np src,dst', { proto: 'udp', src: '10.0.0.77', dst: '192.0.2.1', dport: 53, sport: 9 }, 'drop'],
    ['bitmap:port', '-m set --match-set ports dst', tcp('10.0.0.1', '192.0.2.1', 1500), 'drop'],
    ['bitmap:port ignores icmp', '-m set --match-set ports dst', { proto: 'icmp', src: '10.0.0.1', dst: '192.0.2.1' }, 'accept'],
    ['hash:ip netmask', '-m set --match-set masked src', tcp('10.5.5.200', '192.0.2.1', 22), 'drop'],
    ['list:set member', '-m set --match-set both src', tcp('10.3.3.3', '192.0.2.1', 22), 'drop'],
    ['list:set miss', '-m set --match-set both src', tcp('192.168.1.1', '192.0.2.1', 22), 'accept'],
    ['IPv6 set, IPv4 packet (list:set member of another family)', '-m set --match-set both src', tcp('203.0.113.8', '192.0.2.1', 22), 'drop'],
    ['counter test without a hit is judged', '-m set --match-set ban src --packets-gt 5', tcp('198.51.100.1', '192.0.2.1', 22), 'accept'],
    ['counter test on a hit is unknown', '-m set --match-set ban src --packets-gt 5', tcp('203.0.113.7', '192.0.2.1', 22), 'unknown'],
    ['! --update-counters changes nothing', '-m set --match-set ban src ! --update-counters ! --update-subcounters', tcp('203.0.113.7', '192.0.2.1', 22), 'drop'],
    ['unsupported set type is unknown', '-m set --match-set macs src', tcp('203.0.113.7', '192.0.2.1', 22), 'unknown'],
  ];
  it.each(cases)('%s', (_name, rule, p, expected) => {
    expect(verdict(rule, p)).toBe(expected);
  });

  it('IPv6 sets match IPv6 packets', () => {
    const rs = rules(['-m set --match-set nets6 src -j DROP'], 'ipv6');
    expect(explainPacket(rs, tcp('2001:db8::5', '2001:db8:1::1', 22), { ipsets }).verdict).toBe('drop');
    expect(explainPacket(rs, tcp('2001:db9::5', '2001:db8:1::1', 22), { ipsets }).verdict).toBe('accept');
  });

  it('without contents the rule is unknown, offers both outcomes and says how to provide them', () => {
    const r = explainPacket(rules(['-m set --match-set ban src -j DROP']), tcp('203.0.113.7', '192.0.2.1', 22));
    expect(r.verdict).toBe('unknown');
    expect(r.unknowns[0]?.reasons.join(' ')).toContain('ipset save');
    expect(r.unknowns[0]?.reasons.join(' ')).toContain('--ipset');
    expect(r.unknowns[0]).toMatchObject({ ifMatches: { verdict: 'drop' }, ifNotMatches: { verdict: 'accept' } });
  });

  it('a set missing from the given contents is unknown and says the contents do not belong to the ruleset', () => {
    const r = explainPacket(rules(['-m set --match-set gone src -j DROP']), tcp('203.0.113.7', '192.0.2.1', 22), { ipsets });
    expect(r.verdict).toBe('unknown');
    expect(r.unknowns[0]?.reasons.join(' ')).toMatch(/set gone is not in the given ipset contents.*refuses a rule naming a missing set/);
  });

  it('an element with a timeout decides, with a warning that the verdict changes when it expires', () => {
    const r = explainPacket(rules(['-m set --match-set ban src -j DROP']), tcp('203.0.113.7', '192.0.2.1', 22), { ipsets });
    expect(r.verdict).toBe('drop');
    expect(r.warnings.join('\n')).toContain('expires 120 s after');
    const permanent = explainPacket(rules(['-m set --match-set ban src -j DROP']), tcp('203.0.113.8', '192.0.2.1', 22), { ipsets });
    expect(permanent.warnings.join('\n')).not.toContain('expires');
  });

  it('the trace says which element decided', () => {
    const r = explainPacket(rules(['-m set --match-set nets src -j DROP']), tcp('10.1.9.9', '192.0.2.1', 22), { ipsets });
    expect(r.trace[0]?.reason).toContain('10.1.0.0/16 nomatch in set nets');
  });

  const badRules: [string, string][] = [
    ['no --match-set', '-m set --return-nomatch'],
    ['bad direction', '-m set --match-set ban source'],
    ['missing directions', '-m set --match-set ban'],
    ['unknown option', '-m set --match-set ban src --bogus'],
    ['two sets in one -m set', '-m set --match-set ban src --match-set nets src'],
  ];
  it.each(badRules)('-m set with %s is a parse error', (_name, rule) => {
    expect(() => rules([`${rule} -j DROP`])).toThrow(WhyBlockedError);
  });
});
