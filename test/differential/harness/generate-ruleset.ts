import { addIptablesFeatures } from './add-iptables-features.ts';
import { createPrng, type Prng } from './create-prng.ts';
import { addIpsets } from './generate-ipsets.ts';
import { canonicalCidr, intToIp, ipToInt, parseCidr } from './ipv4.ts';
import { addIp6, bigToIp6, canonicalCidr6, parseCidr6 } from './ipv6.ts';
import { IFACE_PATTERNS, OUT_IFACE_PATTERNS, LOCAL_ADDRESSES, LOCAL_ADDRESSES6, SOURCE_NETWORKS, SOURCE_NETWORKS6 } from './lab-topology.ts';
import type { AvmapKey, CtState, GenChain, GenNamedSet, GenVmap, NftSetKey, GenMatch, GenRule, GenRuleset, GenTable, GenTarget, PortRange, RejectWith, StatefulMatch } from './ruleset-model.ts';

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
  // IPv6 nat from its own stream (IPv4 kept its earlier one), before the `-o` rules so FORWARD gets them too.
  if (family === 'ipv6') addNat(createPrng(seed ^ 0x6e617436), dialect, tables, 0.7);
  // Each later nft feature has its own stream too, so adding one leaves every other's draws alone.
  if (dialect === 'nft') {
    addAnonymousVmaps(createPrng(seed ^ 0x61766d70), tables);
    addUserChainLookups(createPrng(seed ^ 0x75736c6b), tables);
    addIntervalConcatenation(createPrng(seed ^ 0x69636174), tables);
    addMetaAndCtStatus(createPrng(seed ^ 0x6d637374), tables, family);
    addContinue(createPrng(seed ^ 0x636f6e74), tables);
    if (family === 'ipv6') addFib6(createPrng(seed ^ 0x66696236), tables);
  }
  addOutIface(createPrng(seed ^ 0x6f696600), dialect, tables);
  addOutputReject(createPrng(seed ^ 0x72656a6f), dialect, tables);
  addIptablesFeatures(seed, dialect, family, tables);
  const ipsets = dialect === 'iptables' ? addIpsets(createPrng(seed ^ 0x69707365), family, tables) : [];
  const ruleset: GenRuleset = family === 'ipv6' ? { seed, dialect, family, tables } : { seed, dialect, tables };
  if (ipsets.length > 0) ruleset.ipsets = ipsets;
  return ruleset;
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
/** The same for IPv6 (the lab sets net.ipv6.conf.all.forwarding=1). */
const DNAT_TARGETS6 = ['2001:db8:99::3', 'fd00:113::10', '2001:db8:50::9', 'fd00:18::9', '2001:db8:50::9'];

/**
 * nat PREROUTING with DNAT/REDIRECT (IPv4 or IPv6), plus a filter FORWARD chain for what DNAT sends elsewhere.
 * (nft needs FORWARD as a base chain to observe forwarded packets at all.)
 */
function addNat(rng: Prng, dialect: 'iptables' | 'nft', tables: GenTable[], chance = 0.35): void {
  // Fewer IPv6 rulesets run by default, so IPv6 gets nat more often.
  if (!rng.chance(chance)) return;
  const rules: GenRule[] = [];
  const count = rng.int(1, 4);
  for (let i = 0; i < count; i++) {
    const match = natMatch(rng);
    const l4 = match.proto !== undefined && !match.proto.neg ? match.proto.name : undefined;
    const withPort = (l4 === 'tcp' || l4 === 'udp') && rng.chance(0.5);
    const port = rng.pick([22, 80, 2000, 8080]);
    const roll = rng.next();
    const target: GenTarget = roll < 0.55
      ? { kind: 'DNAT', to: rng.pick(currentFamily === 'ipv6' ? DNAT_TARGETS6 : DNAT_TARGETS), ...(withPort ? { port } : {}) }
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
  if (rng.chance(0.25)) {
    const base = pickSourceBase(rng);
    const len = rng.pick([8, 16, 24]);
    match.src = { cidr: currentFamily === 'ipv6' ? canonicalCidr6(base, len * 2 + 16) : canonicalCidr(base, len), neg: rng.chance(0.2) };
  }
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

function filterOf(tables: GenTable[]): { filter: GenTable; input: GenChain } | undefined {
  const filter = tables.find((t) => t.name === 'filter');
  const input = filter?.chains.find((c) => c.name === 'INPUT');
  return filter === undefined || input === undefined ? undefined : { filter, input };
}

/** Chains of filter that generated rules may be added to: INPUT and the user chains it calls (not vmap targets). */
function hostChains(filter: GenTable): GenChain[] {
  return filter.chains.filter((c) => c.vmapTarget !== true && c.name !== 'vmap_target' && !c.name.startsWith('vmap2_'));
}

/**
 * Anonymous verdict maps (`tcp dport vmap { 22 : accept, … }`, on an address or address . port key
 * too), in INPUT or a user chain. nft 1.0.6 has no per-element counters for them; the harness adds a
 * miss counter after the rule, an entry counter to the jump target and an observer chain at the end
 * of the input hook (see decide-from-counters).
 */
function addAnonymousVmaps(rng: Prng, tables: GenTable[]): void {
  const found = filterOf(tables);
  if (found === undefined || !rng.chance(0.7)) return;
  const { filter } = found;
  const hosts = hostChains(filter);
  const count = rng.int(1, 2);
  for (let i = 0; i < count; i++) {
    const key = rng.pick(['dport', 'dport', 'saddr', 'saddr.dport'] as const satisfies readonly AvmapKey[]);
    const l4 = rng.pick(['tcp', 'tcp', 'udp'] as const);
    const keys = key === 'dport' ? vmapPorts(rng) : setElements(rng, key, key === 'saddr');
    const target = `avmap_j${i + 1}`;
    const entries = keys.map((k) => {
      const roll = rng.next();
      return { key: k, verdict: roll < 0.4 ? 'accept' as const : roll < 0.75 ? 'drop' as const : { jump: target } };
    });
    // Both terminal verdicts in one map, so that the observer chain has to tell them apart.
    if (entries.length >= 2 && !entries.some((e) => e.verdict === 'accept')) (entries[0] as typeof entries[number]).verdict = 'accept';
    if (entries.length >= 2 && !entries.some((e) => e.verdict === 'drop')) (entries[entries.length - 1] as typeof entries[number]).verdict = 'drop';
    if (entries.some((e) => typeof e.verdict !== 'string')) {
      filter.chains.push({ name: target, vmapTarget: true, rules: buildRules(rng, 'nft', rng.int(1, 3), [], false) });
    }
    const match: GenMatch = key !== 'saddr' && rng.chance(0.5) ? { proto: { name: l4, neg: false } } : {};
    const host = rng.chance(0.6) ? found.input : rng.pick(hosts);
    host.rules.splice(rng.int(0, Math.min(2, host.rules.length)), 0, { match, target: { kind: 'avmap', key, l4, entries } });
  }
}

/** Ports with ranges sometimes, never overlapping (nft refuses overlapping intervals). */
function vmapPorts(rng: Prng): string[] {
  const ports = [...new Set(rng.some([22, 23, 53, 80, 443, 2000, 3306, 8080], 4))].sort((a, b) => a - b);
  return ports.map((lo, i) => {
    const next = ports[i + 1] ?? 65536;
    const hi = rng.chance(0.3) ? Math.min(next - 1, lo + rng.int(1, 10), 65535) : lo;
    return hi === lo ? `${lo}` : `${lo}-${hi}`;
  });
}

/**
 * Lookups inside user chains, and one named set used from several rules and chains: a set's elements
 * belong to the table, so every user must see the same ones.
 */
function addUserChainLookups(rng: Prng, tables: GenTable[]): void {
  const found = filterOf(tables);
  if (found === undefined || !rng.chance(0.7)) return;
  const { filter, input } = found;
  // A user chain INPUT always calls, so that its lookups are reached often enough to decide.
  const lookups: GenChain = { name: 'lookups', rules: buildRules(rng, 'nft', rng.int(0, 2), [], false) };
  filter.chains.push(lookups);
  input.rules.splice(rng.int(0, Math.min(2, input.rules.length)), 0, { match: {}, target: { kind: rng.chance(0.7) ? 'jump' : 'goto', chain: 'lookups' } });
  const addTo = (chain: GenChain, rule: GenRule): void => { chain.rules.splice(rng.int(0, Math.min(1, chain.rules.length)), 0, rule); };
  if (rng.chance(0.7)) {
    const key = rng.pick(['saddr', 'dport'] as const);
    const l4 = rng.pick(['tcp', 'udp'] as const);
    const elements = setElements(rng, key, true);
    (filter.sets ??= []).push({ name: 'shared1', key, interval: true, elements });
    // Used from INPUT and from user chains: the elements belong to the table, every user sees the same.
    for (const host of [input, lookups, ...(rng.chance(0.5) ? [lookups] : [])]) {
      const match: GenMatch = { nftSet: { key, elements, neg: rng.chance(0.25), named: 'shared1', ...(key === 'dport' ? { l4 } : {}) } };
      if (key === 'dport' && rng.chance(0.5)) match.proto = { name: l4, neg: false };
      addTo(host, { match, target: filterTarget(rng, match, [], host === input) });
    }
  }
  if (rng.chance(0.5)) {
    const key = rng.pick(['saddr', 'daddr', 'dport'] as const);
    const l4 = rng.pick(['tcp', 'udp'] as const);
    const match: GenMatch = { nftSet: { key, elements: setElements(rng, key, false), neg: rng.chance(0.25), ...(key === 'dport' ? { l4 } : {}) } };
    addTo(lookups, { match, target: filterTarget(rng, match, [], false) });
  }
  if (rng.chance(0.5)) {
    // A named vmap with per-element counters inside a user chain.
    const target = 'vmap2_target';
    filter.chains.push({ name: target, rules: buildRules(rng, 'nft', rng.int(1, 3), [], false) });
    const entries: GenVmap['entries'] = vmapPorts(rng).map((text) => {
      const [lo, hi] = text.split('-').map(Number) as [number, number | undefined];
      const roll = rng.next();
      return { ports: { lo, hi: hi ?? lo }, verdict: roll < 0.4 ? 'accept' : roll < 0.75 ? 'drop' : { jump: target } };
    });
    (filter.vmaps ??= []).push({ name: 'vmap2', entries });
    const l4 = rng.pick(['tcp', 'tcp', 'udp'] as const);
    addTo(lookups, { match: rng.chance(0.5) ? { proto: { name: l4, neg: false } } : {}, target: { kind: 'vmap', l4, map: 'vmap2' } });
  }
}

/** A named interval set keyed `addr . port` holding prefixes/ranges on both sides (`10.0.0.0/8 . 20-30`). */
function addIntervalConcatenation(rng: Prng, tables: GenTable[]): void {
  const found = filterOf(tables);
  if (found === undefined || !rng.chance(0.5)) return;
  const v6 = currentFamily === 'ipv6';
  // One element per source network keeps the elements disjoint whatever their port ranges.
  const elements = rng.some(v6 ? SOURCE_NETWORKS6 : SOURCE_NETWORKS, rng.int(1, 3)).map((network) => {
    const addr = addressIn(rng, network);
    const roll = rng.next();
    const src = roll < 0.3 ? addr
      : roll < 0.7 ? (v6 ? canonicalCidr6(addr, rng.pick([120, 124])) : canonicalCidr(addr, rng.pick([28, 29])))
        : v6 ? `${addr}-${addIp6(addr, rng.int(1, 6))}` : `${addr}-${intToIp((ipToInt(addr) + rng.int(1, 6)) >>> 0)}`;
    const lo = rng.pick([22, 53, 80, 443, 3306, 8080]);
    const port = rng.chance(0.6) ? `${lo}-${lo + rng.int(1, 20)}` : `${lo}`;
    return `${src} . ${port}`;
  });
  (found.filter.sets ??= []).push({ name: 'iconcat1', key: 'saddr.dport', interval: true, elements });
  const l4 = rng.pick(['tcp', 'tcp', 'udp'] as const);
  const match: GenMatch = { nftSet: { key: 'saddr.dport', elements, neg: rng.chance(0.25), named: 'iconcat1', l4 } };
  if (rng.chance(0.5)) match.proto = { name: l4, neg: false };
  const host = rng.pick(hostChains(found.filter));
  host.rules.splice(rng.int(0, Math.min(2, host.rules.length)), 0, { match, target: filterTarget(rng, match, [], host === found.input) });
}

/**
 * `meta nfproto` (an inet table sees both families; ip/ip6 tables one) and `ct status`: `dnat` after
 * nat PREROUTING rewrote the destination, `!= snat` compares the whole status word (nft 1.0.6 `cmp neq`).
 */
function addMetaAndCtStatus(rng: Prng, tables: GenTable[], family: Family): void {
  const found = filterOf(tables);
  if (found === undefined) return;
  const { input } = found;
  if (rng.chance(0.4)) {
    const value = rng.chance(0.7) ? family : family === 'ipv4' ? 'ipv6' : 'ipv4';
    const match: GenMatch = { nfproto: { value, neg: rng.chance(0.3) } };
    // Alone, `meta nfproto <own family>` matches every packet and would end INPUT for all of them.
    if (rng.chance(0.7)) match.src = { cidr: randomCidr(rng, pickSourceBase(rng)), neg: false };
    // nft refuses a reject of this family after a match on the other one ("conflicting protocols").
    const target: GenTarget = value === family ? filterTarget(rng, match, [], true) : { kind: rng.pick(['ACCEPT', 'DROP'] as const) };
    input.rules.splice(rng.int(0, Math.min(2, input.rules.length)), 0, { match, target });
  }
  if (rng.chance(0.5)) {
    const status = rng.pick(['dnat', 'dnat', 'snat', 'confirmed', 'seen-reply']);
    const match: GenMatch = { ctStatus: { status, neg: rng.chance(0.4) } };
    input.rules.splice(rng.int(0, Math.min(2, input.rules.length)), 0, { match, target: { kind: rng.pick(['ACCEPT', 'DROP'] as const) } });
  }
}

/** `continue`: a verdict that decides nothing, in INPUT or a user chain. */
function addContinue(rng: Prng, tables: GenTable[]): void {
  const found = filterOf(tables);
  if (found === undefined || !rng.chance(0.4)) return;
  const host = rng.pick(hostChains(found.filter));
  const match = randomMatch(rng, 'nft', { allowState: true, allowMark: false });
  match.comment = 'diff-continue';
  // Near the top, so that packets pass it before most decisions.
  host.rules.splice(rng.int(0, Math.min(2, host.rules.length)), 0, { match, target: { kind: 'CONTINUE' } });
}

/**
 * IPv6 `fib daddr|saddr type`: a route lookup. The destination of a delivered packet is one of the
 * host's addresses (LOCAL, judgeable); a spoofed source's type follows the routes (unjudgeable: only
 * where nothing else unjudgeable is planted, so that exactly two outcomes are on offer).
 */
function addFib6(rng: Prng, tables: GenTable[]): void {
  const found = filterOf(tables);
  if (found === undefined || !rng.chance(0.6)) return;
  const planted = tables.some((t) => t.chains.some((c) => c.rules.some((r) => r.match.stateful !== undefined)));
  const field = !planted && rng.chance(0.35) ? 'saddr' as const : 'daddr' as const;
  const types = rng.some(['local', 'unicast', 'multicast', 'anycast'], 2);
  const match: GenMatch = { fibType: { field, types, neg: rng.chance(0.3) } };
  found.input.rules.splice(rng.int(0, Math.min(3, found.input.rules.length)), 0, { match, target: filterTarget(rng, match, [], true) });
}

/**
 * `-o` / `oifname` rules in filter OUTPUT (the firewall's answers leave by its default route, out0,
 * whatever interface the probe came in on) and in filter FORWARD (where DNAT sends elsewhere). Near
 * the top of the chain so that they decide often; OUTPUT is created when the ruleset has none.
 */
function addOutIface(rng: Prng, dialect: 'iptables' | 'nft', tables: GenTable[]): void {
  const filter = tables.find((t) => t.name === 'filter');
  if (filter === undefined || !rng.chance(0.6)) return;
  let output = filter.chains.find((c) => c.name === 'OUTPUT');
  if (output === undefined) filter.chains.push(output = { name: 'OUTPUT', hook: 'OUTPUT', policy: rng.chance(0.3) ? 'DROP' : 'ACCEPT', rules: [] });
  openAnswers(rng, filter);
  const forward = filter.chains.find((c) => c.name === 'FORWARD');
  for (const chain of forward === undefined ? [output] : [output, forward]) {
    const count = rng.int(1, 2);
    for (let i = 0; i < count; i++) {
      const match: GenMatch = chain === output && rng.chance(0.5) ? outputMatch(rng, dialect) : {};
      match.outIface = { name: rng.pick(OUT_IFACE_PATTERNS), neg: rng.chance(0.25) };
      const roll = rng.next();
      const target: GenTarget = { kind: roll < 0.45 ? 'ACCEPT' : roll < 0.85 ? 'DROP' : 'NONE' };
      chain.rules.splice(rng.int(0, Math.min(1, chain.rules.length)), 0, { match, target });
    }
  }
}

/**
 * A REJECT in filter OUTPUT: the firewall's answer is rejected, and REJECT's error goes to the
 * firewall itself. The harness's self-error guard drops that error before any tested chain sees
 * it and tells which error it was (self-error-guard.ts, FINDINGS.md).
 */
function addOutputReject(rng: Prng, dialect: 'iptables' | 'nft', tables: GenTable[]): void {
  const filter = tables.find((t) => t.name === 'filter');
  if (filter === undefined || !rng.chance(0.45)) return;
  let output = filter.chains.find((c) => c.name === 'OUTPUT');
  if (output === undefined) filter.chains.push(output = { name: 'OUTPUT', hook: 'OUTPUT', policy: 'ACCEPT', rules: [] });
  openAnswers(rng, filter);
  const match: GenMatch = rng.chance(0.6) ? outputMatch(rng, dialect) : {};
  if (rng.chance(0.25)) match.outIface = { name: rng.pick(OUT_IFACE_PATTERNS), neg: rng.chance(0.25) };
  const tcp = match.proto?.name === 'tcp' && !match.proto.neg;
  const rejectWith = tcp && rng.chance(0.4) ? 'tcp-reset' : rng.pick(currentFamily === 'ipv6' ? REJECT_TYPES6 : REJECT_TYPES);
  output.rules.splice(rng.int(0, Math.min(2, output.rules.length)), 0, { match, target: { kind: 'REJECT', rejectWith } });
}

/**
 * Only an accepted SYN to the lab's listener or an accepted echo request is answered, and most
 * generated INPUT chains accept few of them: an OUTPUT feature is compared only through answers, so
 * it usually opens one kind at the top of filter INPUT (the port also steers generatePackets to it).
 */
function openAnswers(rng: Prng, filter: GenTable): void {
  const input = filter.chains.find((c) => c.name === 'INPUT');
  if (input === undefined || !rng.chance(0.7)) return;
  const match: GenMatch = rng.chance(0.6)
    ? { proto: { name: 'tcp', neg: false }, dport: { lo: rng.pick([80, 443]), hi: 0, neg: false } }
    : { proto: { name: currentFamily === 'ipv6' ? 'icmpv6' : 'icmp', neg: false }, icmpType: { type: currentFamily === 'ipv6' ? 128 : 8, neg: false } };
  if (match.dport !== undefined) match.dport.hi = match.dport.lo;
  input.rules.unshift({ match, target: { kind: 'ACCEPT' } });
}
