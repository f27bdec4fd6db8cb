import type { Prng } from './create-prng.ts';
import { canonicalCidr, intToIp, parseCidr } from './ipv4.ts';
import { bigToIp6, canonicalCidr6, parseCidr6 } from './ipv6.ts';
import { LOCAL_ADDRESSES, LOCAL_ADDRESSES6, SOURCE_NETWORKS, SOURCE_NETWORKS6 } from './lab-topology.ts';
import type { GenIpset, GenMatch, GenRuleset, GenTable, GenTarget, RejectWith } from './ruleset-model.ts';

type Family = 'ipv4' | 'ipv6';
type Kind = 'ip' | 'net' | 'ipport' | 'netport' | 'ports' | 'list';

const PORTS = [22, 53, 80, 443, 2000, 3306, 8080];
const REJECT4: RejectWith[] = ['icmp-port-unreachable', 'icmp-host-prohibited', 'icmp-admin-prohibited'];
const REJECT6: RejectWith[] = ['icmp6-port-unreachable', 'icmp6-adm-prohibited'];

/**
 * ipset-backed `-m set` rules near the top of filter INPUT (iptables dialect), with the sets they
 * name: hash:ip (sometimes with netmask and per-element timeouts), hash:net with a `nomatch`
 * exception and a plain entry inside it, hash:ip,port (tcp/udp ports, ICMP type, a portless
 * protocol), hash:net,port, bitmap:port and a list:set of two of those. Directions include too few
 * for the set's dimensions (the kernel never matches then). Own stream: earlier seeds keep their rules.
 */
export function addIpsets(rng: Prng, family: Family, tables: GenTable[]): GenIpset[] {
  const input = tables.find((t) => t.name === 'filter')?.chains.find((c) => c.name === 'INPUT');
  if (input === undefined || !rng.chance(0.6)) return [];
  const sets = new Map<Kind, GenIpset>();
  const make = (kind: Kind): GenIpset => {
    const existing = sets.get(kind);
    if (existing) return existing;
    const set = buildSet(rng, family, kind, make);
    sets.set(kind, set);
    return set;
  };
  const count = rng.int(1, 3);
  for (let i = 0; i < count; i++) {
    const kind = rng.pick(['ip', 'ip', 'net', 'net', 'ipport', 'netport', 'ports', 'list'] as const);
    const set = make(kind);
    const match: GenMatch = { ipset: { name: set.name, dirs: directions(rng, kind), neg: rng.chance(0.25) } };
    if ((kind === 'net' || kind === 'netport') && rng.chance(0.3)) (match.ipset as NonNullable<GenMatch['ipset']>).returnNomatch = true;
    input.rules.splice(rng.int(0, Math.min(2, input.rules.length)), 0, { match, target: target(rng, family) });
  }
  return [...sets.values()];
}

/**
 * The variant loaded when the analyzer is not given the sets' contents: only the first `-m set` rule
 * and no planted stateful match stay, so exactly one rule is unjudgeable and the analyzer's two
 * offered outcomes cover every way the kernel can decide (several unknowns offer only some combinations).
 */
export function withOneUnknownIpsetRule(ruleset: GenRuleset): GenRuleset {
  const out = structuredClone(ruleset);
  let kept = false;
  for (const table of out.tables) {
    for (const chain of table.chains) {
      chain.rules = chain.rules.filter((r) => {
        if (r.match.stateful !== undefined && r.match.stateful !== 'recent-set') return false;
        if (r.match.ipset === undefined) return true;
        if (kept) return false;
        kept = true;
        return true;
      });
    }
  }
  return out;
}

function target(rng: Prng, family: Family): GenTarget {
  const roll = rng.next();
  if (roll < 0.4) return { kind: 'ACCEPT' };
  if (roll < 0.75) return { kind: 'DROP' };
  return { kind: 'REJECT', rejectWith: rng.pick(family === 'ipv6' ? REJECT6 : REJECT4) };
}

function directions(rng: Prng, kind: Kind): string {
  switch (kind) {
    case 'ip': case 'net': return rng.pick(['src', 'src', 'dst', 'src,dst']);
    case 'ipport': return rng.pick(['dst,dst', 'dst,dst', 'src,dst', 'dst']);
    case 'netport': return rng.pick(['src,dst', 'src,dst', 'src,src']);
    case 'ports': return rng.pick(['dst', 'dst', 'src']);
    case 'list': return rng.pick(['src', 'src,dst', 'dst,dst']);
  }
}

function buildSet(rng: Prng, family: Family, kind: Kind, make: (kind: Kind) => GenIpset): GenIpset {
  const v6 = family === 'ipv6';
  const fam = `family ${v6 ? 'inet6' : 'inet'}`;
  const networks = v6 ? SOURCE_NETWORKS6 : SOURCE_NETWORKS;
  const locals = v6 ? LOCAL_ADDRESSES6 : LOCAL_ADDRESSES;
  switch (kind) {
    case 'ip': {
      const netmask = rng.chance(0.25) ? rng.pick(v6 ? [120, 124, 126] : [28, 29, 30]) : undefined;
      const timeouts = rng.chance(0.4);
      const elements = rng.some(networks, 3).map((n) => `${addressIn(rng, family, n)}${timeouts && rng.chance(0.5) ? ' timeout 3600' : ''}`);
      if (rng.chance(0.3)) elements.push(rng.pick(locals));
      const options = [fam, ...(netmask === undefined ? [] : [`netmask ${netmask}`]), ...(timeouts ? ['timeout 0'] : [])];
      return { name: 'wb_ip', type: 'hash:ip', createOptions: options.join(' '), elements };
    }
    case 'net': {
      const network = rng.pick(networks);
      const inner = addressIn(rng, family, network);
      const cidr = (addr: string, len: number): string => (v6 ? canonicalCidr6(addr, len) : canonicalCidr(addr, len));
      const prefixOf = (n: string): number => (v6 ? parseCidr6(n).prefixLen : parseCidr(n).prefixLen);
      const wide = prefixOf(network);
      // A wide block, a nomatch hole in it, and a plain block inside the hole: the most specific entry decides.
      const elements = [network, `${cidr(inner, v6 ? Math.max(wide + 4, 124) : 28)} nomatch`];
      if (rng.chance(0.6)) elements.push(cidr(inner, v6 ? 126 : 30));
      if (rng.chance(0.4)) elements.push(cidr(addressIn(rng, family, rng.pick(networks.filter((n) => n !== network))), v6 ? 128 : 32));
      return { name: 'wb_net', type: 'hash:net', createOptions: fam, elements };
    }
    case 'ipport': {
      const icmp = v6 ? 'ipv6-icmp' : 'icmp';
      const elements = rng.some(locals, 2).flatMap((a) => rng.some([`tcp:${rng.pick(PORTS)}`, `udp:${rng.pick([53, 2000])}`, `${icmp}:echo-request`, 'gre:0', `${rng.pick(PORTS)}`], 3).map((p) => `${a},${p}`));
      // For src,dst lookups: a source address with a port.
      elements.push(`${addressIn(rng, family, rng.pick(networks))},tcp:${rng.pick(PORTS)}`);
      return { name: 'wb_ipport', type: 'hash:ip,port', createOptions: fam, elements: [...new Set(elements)] };
    }
    case 'netport': {
      const elements = rng.some(networks, 2).map((n) => `${n},${rng.pick(['tcp', 'udp'])}:${rng.pick(PORTS)}`);
      return { name: 'wb_netport', type: 'hash:net,port', createOptions: fam, elements };
    }
    case 'ports':
      return { name: 'wb_ports', type: 'bitmap:port', createOptions: 'range 0-65535', elements: rng.some(PORTS, 3).map(String) };
    case 'list': {
      const members = rng.some(['ip', 'net', 'ipport'] as const, 2).map((k) => make(k).name);
      return { name: 'wb_list', type: 'list:set', createOptions: '', elements: members };
    }
  }
}

/** An address inside a source network, away from its edges. */
function addressIn(rng: Prng, family: Family, network: string): string {
  if (family === 'ipv6') return bigToIp6(parseCidr6(network).base + BigInt(rng.int(16, 200)));
  return intToIp((parseCidr(network).base + rng.int(16, 200)) >>> 0);
}
