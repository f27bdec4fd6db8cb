import { addIptablesFeatures } from './add-iptables-features.ts';
import { createPrng, type Prng } from './create-prng.ts';
import { canonicalCidr, intToIp, ipToInt, parseCidr } from './ipv4.ts';
import { addIp6, bigToIp6, canonicalCidr6, parseCidr6 } from './ipv6.ts';
import { IFACE_PATTERNS, LOCAL_ADDRESSES, LOCAL_ADDRESSES6, SOURCE_NETWORKS, SOURCE_NETWORKS6 } from './lab-topology.ts';
import type { CtState, GenChain, GenNamedSet, GenVmap, NftSetKey, GenMatch, GenRule, GenRuleset, GenTable, GenTarget, PortRange, RejectWith, StatefulMatch } from './ruleset-model.ts';

/**
 * Seeded random rulesets over the matches and targets the analyzer claims to support. Small on
 * purpose (5-30 rules, a few chains): many fast cases find more than a few slow ones.
 * The `nft` dialect leaves out what has no one-rule nft equivalent (multiport --ports,
 * addrtype, negated icmp type/code pairs) and adds nft-only lookups (sets, vmap, fib).
 */
export function generateRuleset(seed: number, dialect: 'iptables' | 'nft', family: Family = 'ipv4'): GenRuleset {
  const rng = createPrng(seed);
  currentFamily = family;
  const tables: GenTable[] = [];
  if (rng.chance(0.25)) tables.push(rawTable(rng, dialect));
  if (rng.chance(0.4)) tables.push(mangleTable(rng, dialect));
  tables.push(filterTable(rng, dialect));
  // A second input base chain in another table: ACCEPT in one must not end the other.
  if (dialect === 'nft' && rng.chance(0.3)) {
    tables.push({ name: 'extra', chains: [{ name: 'INPUT', hook: 'INPUT', priority: rng.pick([-10, 10]), policy: rng.chance(0.3) ? 'DROP' : 'ACCEPT', rules: buildRules(rng, dialect, rng.int(1, 5), [], true) }] });
  }
  // nat draws from its own stream, so adding it left every earlier seed's tables unchanged.
  if (family === 'ipv4') addNat(createPrng(seed ^ 0x6e617400), dialect, tables);
  addStateful(createPrng(seed ^ 0x73746174), dialect, tables);
  addOutput(createPrng(seed ^ 0x6f757400), dialect, tables);
  if (dialect === 'nft') addNftLookups(createPrng(seed ^ 0x6e667365), tables);
  addIptablesFeatures(seed, dialect, family, tables);
  return family === 'ipv6' ? { seed, dialect, family, tables } : { seed, dialect, tables };
}

type Family = 'ipv4' | 'ipv6';
/** The family being generated; set once per generateRuleset call (generation is synchronous). */
let currentFamily: Family = 'ipv4';

const PORT_POOL = [22, 23, 53, 80, 443, 1024, 2000, 3306, 8080, 65535];
const CT_STATES: CtState[] = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED'];
const REJECT_TYPES6: RejectWith[] = [
  'icmp6-no-route', 'icmp6-adm-prohibited', 'icmp6-addr-unreachable', 'icmp6-port-unreachable', 'icmp6-policy-fail', 'icmp6-reject-route',
];
const REJECT_TYPES: RejectWith[] = [
  'icmp-net-unreachable', 'icmp-host-unreachable', 'icmp-port-unreachable', 'icmp-proto-unreachable',
  'icmp-net-prohibited', 'icmp-host-prohibited', 'icmp-admin-prohibited',
];
const TCP_FLAG_NAMES = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG'];
/** In libxt_addrtype's print order. */
const ADDR_TYPES = ['UNICAST', 'LOCAL', 'BROADCAST', 'MULTICAST'];
const MARK_CHOICES: Array<{ value: number; mask: number }> = [
  { value: 0x1, mask: 0xffffffff }, { value: 0x2, mask: 0xffffffff }, { value: 0x1, mask: 0xff },
  { value: 0x10, mask: 0xf0 }, { value: 0x0, mask: 0xffffffff },
];

function rawTable(rng: Prng, dialect: 'iptables' | 'nft'): GenTable {
  const rules: GenRule[] = [];
  const count = rng.int(1, 3);
  for (let i = 0; i < count; i++) {
    const target: GenTarget = rng.chance(0.8) ? { kind: 'NOTRACK' } : { kind: rng.pick(['DROP', 'ACCEPT', 'NONE'] as const) };
    rules.push({ match: randomMatch(rng, dialect, { allowState: false, allowMark: false }), target });
  }
  return { name: 'raw', chains: [{ name: 'PREROUTING', hook: 'PREROUTING', policy: rng.chance(0.1) ? 'DROP' : 'ACCEPT', rules }] };
}

function mangleTable(rng: Prng, dialect: 'iptables' | 'nft'): GenTable {
  const chains: GenChain[] = [];
  for (const hook of ['PREROUTING', 'INPUT'] as const) {
    const rules: GenRule[] = [];
    const count = rng.int(0, 4);
    for (let i = 0; i < count; i++) {
      const roll = rng.next();
      const target: GenTarget = roll < 0.6
        ? { kind: 'MARK', ...rng.pick(MARK_CHOICES) }
        : { kind: rng.pick(['ACCEPT', 'DROP', 'NONE', 'RETURN'] as const) };
      rules.push({ match: randomMatch(rng, dialect, { allowState: true, allowMark: true }), target });
    }
    chains.push({ name: hook, hook, policy: rng.chance(0.1) ? 'DROP' : 'ACCEPT', rules });
  }
  return { name: 'mangle', chains };
}

/** Where DNAT sends packets: the firewall's own addresses (then INPUT) or hosts behind its default route (then FORWARD). */
const DNAT_TARGETS = ['10.99.0.3', '203.0.113.10', '10.98.0.2', '192.0.2.50', '198.18.0.9'];

/**
 * nat PREROUTING with DNAT/REDIRECT, plus a filter FORWARD chain for what DNAT sends elsewhere.
 * (nft needs FORWARD as a base chain to observe forwarded packets at all.)
 */
function addNat(rng: Prng, dialect: 'iptables' | 'nft', tables: GenTable[]): void {
  if (!rng.chance(0.35)) return;
  const rules: GenRule[] = [];
  const count = rng.int(1, 4);
  for (let i = 0; i < count; i++) {
    const match = natMatch(rng);
    const l4 = match.proto !== undefined && !match.proto.neg ? match.proto.name : undefined;
    const withPort = (l4 === 'tcp' || l4 === 'udp') && rng.chance(0.5);
    const port = rng.pick([22, 80, 2000, 8080]);
    const roll = rng.next();
    const target: GenTarget = roll < 0.55
      ? { kind: 'DNAT', to: rng.pick(DNAT_TARGETS), ...(withPort ? { port } : {}) }
      : roll < 0.8 ? { kind: 'REDIRECT', ...(withPort ? { port } : {}) } : { kind: rng.pick(['ACCEPT', 'RETURN', 'NONE'] as const) };
    rules.push({ match, target });
  }
  tables.unshift({ name: 'nat', chains: [{ name: 'PREROUTING', hook: 'PREROUTING', policy: 'ACCEPT', rules }] });
  const filter = tables.find((t) => t.name === 'filter');
  filter?.chains.splice(1, 0, { name: 'FORWARD', hook: 'FORWARD', policy: rng.chance(0.5) ? 'DROP' : 'ACCEPT', rules: buildRules(rng, dialect, rng.int(0, 5), [], true) });
}

const STATEFUL_IPTABLES: StatefulMatch[] = ['limit', 'recent-check', 'string', 'statistic', 'length'];
const STATEFUL_NFT: StatefulMatch[] = ['limit', 'nft-quota'];

/**
 * At most one rule whose match depends on state no dump holds, in filter INPUT. One only: the
 * analyzer then offers exactly two outcomes, and the kernel's must be one of them.
 */
function addStateful(rng: Prng, dialect: 'iptables' | 'nft', tables: GenTable[]): void {
  if (!rng.chance(0.3)) return;
  const input = tables.find((t) => t.name === 'filter')?.chains.find((c) => c.name === 'INPUT');
  if (input === undefined) return;
  const kind = rng.pick(dialect === 'nft' ? STATEFUL_NFT : STATEFUL_IPTABLES);
  const match: GenMatch = { stateful: kind };
  if (rng.chance(0.5)) match.proto = { name: rng.pick(['tcp', 'udp'] as const), neg: false };
  const at = rng.int(0, input.rules.length);
  input.rules.splice(at, 0, { match, target: { kind: rng.pick(['ACCEPT', 'DROP'] as const) } });
  // xt_recent --set always matches (and fills the list the later --rcheck reads): not an unknown.
  if (kind === 'recent-check') input.rules.splice(rng.int(0, at), 0, { match: { stateful: 'recent-set' }, target: { kind: 'NONE' } });
}

/**
 * filter OUTPUT, which the firewall's own answers cross (echo reply, SYN-ACK from the lab's
 * listener): the "request accepted, reply blocked" case. No `-o` (the lab answers via its default
 * route, not the probe's interface) and no REJECT (its error would be delivered locally, into INPUT).
 */
function addOutput(rng: Prng, dialect: 'iptables' | 'nft', tables: GenTable[]): void {
  if (!rng.chance(0.4)) return;
  const filter = tables.find((t) => t.name === 'filter');
  if (filter === undefined) return;
  const rules: GenRule[] = [];
  const count = rng.int(1, 5);
  for (let i = 0; i < count; i++) {
    const roll = rng.next();
    const target: GenTarget = { kind: roll < 0.35 ? 'ACCEPT' : roll < 0.7 ? 'DROP' : roll < 0.8 ? 'RETURN' : 'NONE' };
    rules.push({ match: outputMatch(rng, dialect), target });
  }
  filter.chains.push({ name: 'OUTPUT', hook: 'OUTPUT', policy: rng.chance(0.4) ? 'DROP' : 'ACCEPT', rules });
}

function outputMatch(rng: Prng, dialect: 'iptables' | 'nft'): GenMatch {
  const match: GenMatch = {};
  const v6 = currentFamily === 'ipv6';
  if (rng.chance(0.6)) {
    const name = rng.pick(['tcp', v6 ? 'icmpv6' : 'icmp'] as const);
    match.proto = { name, neg: rng.chance(0.1) };
    if (!match.proto.neg && name === 'tcp') {
      if (rng.chance(0.5)) match.sport = { lo: rng.pick([80, 443, 22]), hi: 0, neg: rng.chance(0.2) };
      if (match.sport !== undefined) match.sport.hi = match.sport.lo;
      if (rng.chance(0.3)) match.tcpFlags = { mask: ['FIN', 'SYN', 'RST', 'ACK'], comp: rng.pick([['SYN', 'ACK'], ['RST'], ['SYN']]), neg: rng.chance(0.2) };
    }
    if (!match.proto.neg && name !== 'tcp' && rng.chance(0.5)) match.icmpType = { type: rng.pick(v6 ? [129, 128, 1] : [0, 8, 3]), neg: rng.chance(0.2) };
  }
  if (rng.chance(0.3)) match.dst = { cidr: randomCidr(rng, pickSourceBase(rng)), neg: rng.chance(0.2) };
  if (rng.chance(0.3)) {
    const states = rng.some(CT_STATES, 2);
    match.ctstate = { module: 'conntrack', states: CT_STATES.filter((s) => states.includes(s)), neg: rng.chance(0.2) };
    if (dialect === 'nft') match.ctstate.nftBraces = true;
  }
  if (rng.chance(0.1)) match.mark = { ...rng.pick(MARK_CHOICES), neg: false };
  return match;
}

/** Broad matches, so that DNAT actually fires for a good share of the generated packets. */
function natMatch(rng: Prng): GenMatch {
  const match: GenMatch = {};
  if (rng.chance(0.7)) {
    const name = rng.pick(['tcp', 'tcp', 'udp'] as const);
    match.proto = { name, neg: false };
    if (rng.chance(0.6)) match.dport = { ...randomPortRange(rng), neg: rng.chance(0.15) };
  }
  if (rng.chance(0.25)) match.src = { cidr: canonicalCidr(pickSourceBase(rng), rng.pick([8, 16, 24])), neg: rng.chance(0.2) };
  if (rng.chance(0.15)) match.inIface = { name: rng.pick(IFACE_PATTERNS), neg: false };
  return match;
}

function filterTable(rng: Prng, dialect: 'iptables' | 'nft'): GenTable {
  const userCount = rng.int(0, 3);
  const userNames = Array.from({ length: userCount }, (_, i) => rng.pick(['u', 'svc', 'ALLOW-', 'my_chain']) + String(i + 1));
  const inputRules = buildRules(rng, dialect, rng.int(3, 14), userNames, true);
  const chains: GenChain[] = [{ name: 'INPUT', hook: 'INPUT', policy: rng.chance(0.5) ? 'DROP' : 'ACCEPT', rules: inputRules }];
  userNames.forEach((name, index) => {
    // A user chain may only call chains after it: no loops, and each chain has one caller tree.
    chains.push({ name, rules: buildRules(rng, dialect, rng.int(1, 6), userNames.slice(index + 1), false) });
  });
  return { name: 'filter', chains };
}

function buildRules(rng: Prng, dialect: 'iptables' | 'nft', count: number, callable: string[], builtin: boolean): GenRule[] {
  const rules: GenRule[] = [];
  for (let i = 0; i < count; i++) {
    const match = randomMatch(rng, dialect, { allowState: true, allowMark: true });
    rules.push({ match, target: filterTarget(rng, match, callable, builtin) });
  }
  // Make sure every user chain is reachable, otherwise its rules are dead weight.
  for (const name of callable) {
    if (!rules.some((r) => (r.target.kind === 'jump' || r.target.kind === 'goto') && r.target.chain === name) && rng.chance(0.8)) {
      rules.splice(rng.int(0, rules.length), 0, { match: randomMatch(rng, dialect, { allowState: true, allowMark: true }), target: { kind: rng.chance(0.8) ? 'jump' : 'goto', chain: name } });
    }
  }
  return rules;
}

function filterTarget(rng: Prng, match: GenMatch, callable: string[], builtin: boolean): GenTarget {
  const roll = rng.next();
  if (callable.length > 0 && roll < 0.18) return { kind: rng.chance(0.75) ? 'jump' : 'goto', chain: rng.pick(callable) };
  if (roll < 0.42) return { kind: 'ACCEPT' };
  if (roll < 0.58) return { kind: 'DROP' };
  if (roll < 0.76) {
    const tcp = match.proto?.name === 'tcp' && !match.proto.neg;
    return { kind: 'REJECT', rejectWith: tcp && rng.chance(0.4) ? 'tcp-reset' : rng.pick(currentFamily === 'ipv6' ? REJECT_TYPES6 : REJECT_TYPES) };
  }
  if (roll < 0.84) return { kind: 'LOG', prefix: rng.pick(['drop: ', 'IN', 'fw "x"']) };
  if (roll < 0.9 && !builtin) return { kind: 'RETURN' };
  if (roll < 0.93) return { kind: 'RETURN' };
  return { kind: 'NONE' };
}

interface MatchOptions { allowState: boolean; allowMark: boolean }

function randomMatch(rng: Prng, dialect: 'iptables' | 'nft', options: MatchOptions): GenMatch {
  const match: GenMatch = {};
  const neg = (): boolean => rng.chance(0.2);
  if (rng.chance(0.3)) match.src = { cidr: randomCidr(rng, pickSourceBase(rng)), neg: neg() };
  if (rng.chance(0.15)) match.dst = { cidr: randomCidr(rng, rng.pick(currentFamily === 'ipv6' ? LOCAL_ADDRESSES6 : LOCAL_ADDRESSES)), neg: neg() };
  if (rng.chance(0.2)) match.inIface = { name: rng.pick(IFACE_PATTERNS), neg: neg() };
  if (rng.chance(0.65)) {
    const roll = rng.next();
    const icmp = currentFamily === 'ipv6' ? 'icmpv6' : 'icmp';
    const name = roll < 0.55 ? 'tcp' : roll < 0.8 ? 'udp' : roll < 0.95 ? icmp : rng.pick([47, 132]);
    match.proto = { name, neg: rng.chance(0.1) };
  }
  const l4 = match.proto !== undefined && !match.proto.neg ? match.proto.name : undefined;
  if (l4 === 'tcp' || l4 === 'udp') {
    if (rng.chance(0.25)) match.sport = { ...randomPortRange(rng), neg: neg() };
    if (rng.chance(0.55)) match.dport = { ...randomPortRange(rng), neg: neg() };
    if (l4 === 'tcp' && rng.chance(0.25)) match.tcpFlags = randomTcpFlags(rng);
    if (rng.chance(0.25)) {
      const options = dialect === 'nft' ? (['dports', 'sports'] as const) : (['dports', 'sports', 'ports'] as const);
      const items = Array.from({ length: rng.int(1, 4) }, () => randomPortRange(rng));
      match.multiport = { option: rng.pick(options), items, neg: neg() };
    }
  }
  if (l4 === 'icmpv6' && rng.chance(0.6)) {
    const type = rng.pick([128, 129, 1, 2, 3, 4]);
    const code = type === 1 && rng.chance(0.5) ? rng.pick([0, 1, 3, 4]) : undefined;
    match.icmpType = { type, ...(code === undefined ? {} : { code }), neg: dialect === 'nft' && code !== undefined ? false : neg() };
  }
  if (l4 === 'icmp' && rng.chance(0.6)) {
    const type = rng.pick([0, 3, 8, 11, 13]);
    const code = type === 3 && rng.chance(0.5) ? rng.pick([1, 3, 13]) : undefined;
    match.icmpType = { type, ...(code === undefined ? {} : { code }), neg: dialect === 'nft' && code !== undefined ? false : neg() };
  }
  if (rng.chance(0.12)) {
    const option = rng.pick(['src-range', 'dst-range'] as const);
    if (currentFamily === 'ipv6') {
      const lo = addIp6(option === 'src-range' ? pickSourceBase(rng) : rng.pick(LOCAL_ADDRESSES6), -rng.int(0, 3));
      match.iprange = { option, lo, hi: addIp6(lo, rng.int(0, 8)), neg: neg() };
    } else {
      const base = ipToInt(option === 'src-range' ? pickSourceBase(rng) : rng.pick(LOCAL_ADDRESSES));
      const lo = base - rng.int(0, 3);
      match.iprange = { option, lo: intToIp(lo >>> 0), hi: intToIp((lo + rng.int(0, 8)) >>> 0), neg: neg() };
    }
  }
  if (options.allowState && rng.chance(0.3)) {
    const states = rng.some(CT_STATES, 3);
    // iptables-save prints states in this fixed order; generating them so keeps the text canonical.
    match.ctstate = { module: rng.chance(0.3) ? 'state' : 'conntrack', states: CT_STATES.filter((s) => states.includes(s)), neg: neg() };
    if (dialect === 'nft' && rng.chance(0.7)) match.ctstate.nftBraces = true;
  }
  // ip6tables addrtype lacks BROADCAST and differs in LOCAL/UNICAST details: IPv4 only for now.
  if (dialect === 'iptables' && currentFamily === 'ipv4' && rng.chance(0.08)) {
    const types = rng.some(ADDR_TYPES, 2);
    match.addrtype = { option: rng.pick(['src-type', 'dst-type'] as const), types: ADDR_TYPES.filter((t) => types.includes(t)), neg: neg() };
  }
  if (options.allowMark && rng.chance(0.12)) match.mark = { ...rng.pick(MARK_CHOICES), neg: neg() };
  if (rng.chance(0.15)) match.comment = rng.pick(['allow ssh', 'seed', 'x-1', 'quote "q" here']);
  return match;
}

function pickSourceBase(rng: Prng): string {
  if (currentFamily === 'ipv6') {
    const { base, prefixLen } = parseCidr6(rng.pick(SOURCE_NETWORKS6));
    const size = 1n << BigInt(128 - prefixLen);
    const offset = rng.chance(0.5) ? BigInt(rng.int(1, 300)) : size - BigInt(rng.int(2, 300));
    return bigToIp6(base + offset);
  }
  const { base, prefixLen } = parseCidr(rng.pick(SOURCE_NETWORKS));
  return intToIp((base + rng.int(1, 2 ** (32 - prefixLen) - 2)) >>> 0);
}

function randomCidr(rng: Prng, addr: string): string {
  if (currentFamily === 'ipv6') return canonicalCidr6(addr, rng.pick([32, 48, 64, 96, 112, 120, 127, 128, 128]));
  return canonicalCidr(addr, rng.pick([8, 16, 24, 25, 30, 32, 32]));
}

function randomPortRange(rng: Prng): PortRange {
  const lo = rng.chance(0.7) ? rng.pick(PORT_POOL) : rng.int(1, 65535);
  if (rng.chance(0.7)) return { lo, hi: lo };
  return { lo, hi: Math.min(65535, lo + rng.pick([1, 10, 1000, 65535])) };
}

function randomTcpFlags(rng: Prng): GenMatch['tcpFlags'] {
  if (rng.chance(0.4)) return { mask: ['FIN', 'SYN', 'RST', 'ACK'], comp: ['SYN'], neg: rng.chance(0.3) };
  const mask = rng.some(TCP_FLAG_NAMES, 4);
  const comp = mask.filter(() => rng.chance(0.4));
  return { mask: TCP_FLAG_NAMES.filter((f) => mask.includes(f)), comp: TCP_FLAG_NAMES.filter((f) => comp.includes(f)), neg: rng.chance(0.2) };
}

/**
 * nft-only lookups in filter INPUT: anonymous and named sets (addresses with prefixes/ranges, ports,
 * an address . port concatenation), a named verdict map (per-element counters tell which verdict
 * the kernel took) and `fib … type`. Own stream, so every earlier seed keeps its base ruleset.
 */
function addNftLookups(rng: Prng, tables: GenTable[]): void {
  const filter = tables.find((t) => t.name === 'filter');
  const input = filter?.chains.find((c) => c.name === 'INPUT');
  if (filter === undefined || input === undefined) return;
  // Near the top of INPUT, so that the lookups decide often enough to be compared at all.
  const insert = (rule: GenRule, anywhere = false): void => { input.rules.splice(rng.int(0, anywhere ? input.rules.length : Math.min(2, input.rules.length)), 0, rule); };
  const sets: GenNamedSet[] = [];
  if (rng.chance(0.7)) {
    const count = rng.int(1, 3);
    for (let i = 0; i < count; i++) {
      const key = rng.pick(['saddr', 'saddr', 'daddr', 'dport', 'dport', 'sport', 'saddr.dport'] as const);
      const l4 = rng.pick(['tcp', 'tcp', 'udp'] as const);
      // Concatenations cannot be anonymous with intervals here; they are always named and exact.
      const named = key === 'saddr.dport' || rng.chance(0.5);
      const elements = setElements(rng, key, named && key !== 'saddr.dport');
      const match: GenMatch = { nftSet: { key, elements, neg: rng.chance(0.25), ...(key === 'saddr' || key === 'daddr' ? {} : { l4 }) } };
      // Without `meta l4proto` the port lookup relies on nft's implicit protocol dependency.
      if (key !== 'saddr' && key !== 'daddr' && rng.chance(0.5)) match.proto = { name: l4, neg: false };
      if (named) {
        const name = `set${i + 1}`;
        sets.push({ name, key, interval: key !== 'saddr.dport', elements });
        (match.nftSet as NonNullable<GenMatch['nftSet']>).named = name;
      }
      insert({ match, target: filterTarget(rng, match, [], true) });
    }
  }
  if (sets.length > 0) filter.sets = sets;
  if (rng.chance(0.55)) {
    const chainName = 'vmap_target';
    filter.chains.push({ name: chainName, rules: buildRules(rng, 'nft', rng.int(1, 3), [], false) });
    const ports = [...new Set(rng.some([22, 23, 53, 80, 443, 2000, 3306, 8080], 4))].sort((a, b) => a - b);
    const entries: GenVmap['entries'] = ports.map((lo, i) => {
      const next = ports[i + 1] ?? 65536;
      const hi = rng.chance(0.3) ? Math.min(next - 1, lo + rng.int(1, 10), 65535) : lo;
      const roll = rng.next();
      return { ports: { lo, hi }, verdict: roll < 0.4 ? 'accept' : roll < 0.7 ? 'drop' : { jump: chainName } };
    });
    if (!entries.some((e) => typeof e.verdict !== 'string')) (entries[0] as GenVmap['entries'][number]).verdict = { jump: chainName };
    filter.vmaps = [{ name: 'vmap1', entries }];
    const l4 = rng.pick(['tcp', 'tcp', 'udp'] as const);
    const match: GenMatch = rng.chance(0.5) ? { proto: { name: l4, neg: false } } : {};
    if (rng.chance(0.3)) match.src = { cidr: randomCidr(rng, pickSourceBase(rng)), neg: rng.chance(0.3) };
    insert({ match, target: { kind: 'vmap', l4, map: 'vmap1' } });
  }
  // fib type follows the routing table; for IPv4 that is addrtype over the host's addresses.
  if (currentFamily === 'ipv4' && rng.chance(0.4)) {
    const types = rng.some(['local', 'unicast', 'broadcast', 'multicast'], 2);
    const match: GenMatch = { fibType: { field: rng.pick(['saddr', 'daddr'] as const), types, neg: rng.chance(0.3) } };
    insert({ match, target: filterTarget(rng, match, [], true) }, true);
  }
  // A reverse-path check needs routes, which no dump holds: the analyzer must offer both outcomes.
  // Only where no other unjudgeable match is planted, so that exactly two outcomes are on offer.
  const planted = tables.some((t) => t.chains.some((c) => c.rules.some((r) => r.match.stateful !== undefined)));
  if (currentFamily === 'ipv4' && !planted && rng.chance(0.25)) {
    insert({ match: { fibRpf: true }, target: { kind: rng.pick(['ACCEPT', 'DROP'] as const) } }, true);
  }
}

/** Elements that never overlap (nft refuses overlapping intervals): at most one per source network / port. */
function setElements(rng: Prng, key: NftSetKey, interval: boolean): string[] {
  const v6 = currentFamily === 'ipv6';
  const count = rng.int(1, 3);
  if (key === 'saddr') {
    return rng.some(v6 ? SOURCE_NETWORKS6 : SOURCE_NETWORKS, count).map((network) => {
      const addr = addressIn(rng, network);
      if (!interval || rng.chance(0.3)) return addr;
      if (rng.chance(0.5)) return v6 ? canonicalCidr6(addr, rng.pick([120, 124, 127])) : canonicalCidr(addr, rng.pick([28, 29, 30]));
      return v6 ? `${addr}-${addIp6(addr, rng.int(1, 6))}` : `${addr}-${intToIp((ipToInt(addr) + rng.int(1, 6)) >>> 0)}`;
    });
  }
  if (key === 'daddr') return rng.some(v6 ? LOCAL_ADDRESSES6 : LOCAL_ADDRESSES, count);
  const ports = [...new Set(rng.some(PORT_POOL.filter((p) => p < 65535), count))].sort((a, b) => a - b);
  if (key === 'saddr.dport') return ports.map((p) => `${addressIn(rng, rng.pick(v6 ? SOURCE_NETWORKS6 : SOURCE_NETWORKS))} . ${p}`);
  return ports.map((lo, i) => {
    const next = ports[i + 1] ?? 65536;
    const hi = Math.min(next - 1, lo + rng.int(1, 20), 65535);
    return interval && hi > lo && rng.chance(0.4) ? `${lo}-${hi}` : `${lo}`;
  });
}

/** An address inside a source network, away from its edges so a prefix around it stays inside. */
function addressIn(rng: Prng, network: string): string {
  if (currentFamily === 'ipv6') {
    const { base } = parseCidr6(network);
    return bigToIp6(base + BigInt(rng.int(16, 200)));
  }
  const { base } = parseCidr(network);
  return intToIp((base + rng.int(16, 200)) >>> 0);
}
