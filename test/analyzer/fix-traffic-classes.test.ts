import { describe, expect, it } from 'vitest';
import { parseRuleset, parseIp } from '../../src/analyzer/index.ts';
import { enumerateClasses, hullOfBoxes, intersectBoxes, ruleBox, boxIsEmpty, type ClassSeed } from '../../src/analyzer/fix-traffic-classes.ts';

const ip = (s: string): bigint => parseIp(s)?.value as bigint;

const rules = parseRuleset([
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  '-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT',
  '-A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 23 -j DROP',
  '-A INPUT -i eth+ -p udp -m udp --dport 1000:2000 -j ACCEPT',
  '-A INPUT -i lo -j ACCEPT',
  '-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT',
  '-A INPUT -j REJECT --reject-with icmp-host-prohibited',
  'COMMIT',
  '',
].join('\n'), { format: 'iptables-save', family: 'ipv4' });

const seed: ClassSeed = { family: 'ipv4', src: ip('192.168.30.1'), dst: ip('192.168.30.2'), proto: 6, dport: 23, inIface: null, state: 'NEW', local: [ip('192.168.30.2')] };
const input = rules.tables[0]?.chains.get('INPUT')?.rules ?? [];

describe('traffic classes induced by a ruleset', () => {
  it('computes what a rule can match at most', () => {
    const box = ruleBox(input[1]!, 'ipv4');
    expect(box).toEqual({ src: [[ip('10.0.0.0'), ip('10.255.255.255')]], protos: [6], dport: [[23, 23]] });
    expect(new Set(ruleBox(input[0]!, 'ipv4').states)).toEqual(new Set(['ESTABLISHED', 'RELATED']));
    expect(ruleBox(input[5]!, 'ipv4')).toEqual({});
  });

  it('intersects and hulls boxes', () => {
    const tcp23 = ruleBox(input[1]!, 'ipv4');
    const udp = ruleBox(input[2]!, 'ipv4');
    expect(boxIsEmpty(intersectBoxes(tcp23, udp))).toBe(true);
    expect(boxIsEmpty(intersectBoxes(tcp23, {}))).toBe(false);
    const hull = hullOfBoxes([tcp23, udp]);
    expect(hull.protos).toEqual([6, 17]);
    expect(hull.src).toBeUndefined();
  });

  it('splits sources at every CIDR edge inside the region, with the request as representative', () => {
    const { classes, complete } = enumerateClasses([rules], seed, { protos: [6], dport: [[23, 23]] }, 1000);
    expect(complete).toBe(true);
    const srcs = [...new Set(classes.map((c) => `${c.src[0]}-${c.src[1]}`))];
    expect(srcs).toEqual([`0-${ip('9.255.255.255')}`, `${ip('10.0.0.0')}-${ip('10.255.255.255')}`, `${ip('11.0.0.0')}-${ip('255.255.255.255')}`]);
    const own = classes.find((c) => c.src[0] === ip('11.0.0.0'));
    expect(own?.srcRep).toBe(seed.src);
    // Only rules that can meet tcp/23 split: the udp rule's eth+ does, too (its box has no tcp port), but not its port range.
    expect(new Set(classes.map((c) => c.dport?.join(':')))).toEqual(new Set(['23:23']));
    // States split only where some rule (or nat, or conntrack itself) tells them apart.
    expect(new Set(classes.map((c) => c.states.join('/')))).toEqual(new Set(['NEW', 'ESTABLISHED/RELATED', 'INVALID/UNTRACKED']));
    expect(classes.find((c) => c.states.includes('RELATED'))?.state).toBe('ESTABLISHED');
    expect(new Set(classes.map((c) => c.iface.label))).toEqual(new Set(['lo', 'any other interface']));
  });

  it('covers protocols the rules name plus one "other" class, and ports at range boundaries', () => {
    const { classes } = enumerateClasses([rules], seed, {}, 100000);
    const protos = new Set(classes.map((c) => `${c.proto}${c.protoOther ? '*' : ''}`));
    expect(protos).toEqual(new Set(['6', '17', '1', '253*']));
    const udpPorts = new Set(classes.filter((c) => c.proto === 17).map((c) => c.dport?.join(':')));
    expect(udpPorts).toEqual(new Set(['0:22', '23:23', '24:999', '1000:2000', '2001:65535']));
    const icmp = new Set(classes.filter((c) => c.proto === 1).map((c) => `${c.icmpType}${c.icmpTypeOther ? '*' : ''}`));
    expect(icmp).toEqual(new Set(['8', '0*']));
    expect(new Set(classes.map((c) => c.iface.label))).toEqual(new Set(['lo', 'eth+', 'any other interface']));
  });

  it('stops at maxClasses and says the enumeration is incomplete', () => {
    const { classes, complete } = enumerateClasses([rules], seed, {}, 10);
    expect(classes).toHaveLength(10);
    expect(complete).toBe(false);
  });
});
