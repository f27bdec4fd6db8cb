import type { BigRange, CtState, Family, Match, PortRange, Rule, Ruleset } from './model.ts';
import { allOnes } from './ip-address.ts';
import { hasPorts, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from './protocols.ts';

/**
 * Equivalence classes of traffic induced by the rulesets' own constants. Two packets in one class
 * agree on every match of every rule considered, so one representative per class decides the class.
 */

export const ALL_STATES: readonly CtState[] = ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED'];

/** A product of per-field sets; `undefined` = unconstrained. Used to prune what can change. */
export interface TrafficBox {
  src?: BigRange[];
  dst?: BigRange[];
  protos?: number[];
  dport?: PortRange[];
  sport?: PortRange[];
  states?: CtState[];
  inIfaces?: { name: string; wildcard: boolean }[];
}

export interface IfaceClass {
  /** Representative name; `null` = the packet's own (unspecified) interface. */
  name: string | null;
  /** Words for reports: `eth0`, `eth+ (other than eth0)`, `any other interface`. */
  label: string;
  other: boolean;
}

export interface TrafficClass {
  family: Family;
  proto: number;
  /** The "every protocol no rule names" class (represented by an unused protocol number). */
  protoOther: boolean;
  src: BigRange;
  dst: BigRange;
  srcRep: bigint;
  dstRep: bigint;
  dport?: PortRange;
  dportRep?: number;
  sport?: PortRange;
  sportRep?: number;
  icmpType?: number;
  icmpTypeOther?: boolean;
  iface: IfaceClass;
  /** Representative conntrack state of `states`. */
  state: CtState;
  /** States no rule tells apart (e.g. ESTABLISHED and RELATED when rules only test both together). */
  states: CtState[];
  /** Which fields were split at all (the others are the requested packet's values). */
  splits: { src: boolean; dst: boolean; dport: boolean; sport: boolean; iface: boolean; state: boolean; icmp: boolean };
}

export interface ClassSeed {
  family: Family;
  /** The requested packet; its values are the representatives wherever a class contains them. */
  src: bigint;
  dst: bigint;
  proto: number;
  sport?: number;
  dport?: number;
  icmpType?: number;
  inIface: string | null;
  state: CtState;
  /** The host's addresses: each is its own destination class (local delivery differs). */
  local: bigint[];
}

const PORT_MAX = 65535;

function intersectRanges<T extends number | bigint>(a: readonly (readonly [T, T])[], b: readonly (readonly [T, T])[]): [T, T][] {
  const out: [T, T][] = [];
  for (const x of a) for (const y of b) {
    const lo = x[0] > y[0] ? x[0] : y[0];
    const hi = x[1] < y[1] ? x[1] : y[1];
    if (lo <= hi) out.push([lo, hi]);
  }
  return out;
}

function intersectDim<T>(a: T[] | undefined, b: T[] | undefined, f: (x: T[], y: T[]) => T[]): T[] | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return f(a, b);
}

function sameSet<T>(x: T[], y: T[]): T[] {
  return x.filter((v) => y.includes(v));
}

export function intersectBoxes(a: TrafficBox, b: TrafficBox): TrafficBox {
  const out: TrafficBox = {};
  const src = intersectDim(a.src, b.src, (x, y) => intersectRanges(x, y));
  const dst = intersectDim(a.dst, b.dst, (x, y) => intersectRanges(x, y));
  const protos = intersectDim(a.protos, b.protos, sameSet);
  const dport = intersectDim(a.dport, b.dport, (x, y) => intersectRanges(x, y));
  const sport = intersectDim(a.sport, b.sport, (x, y) => intersectRanges(x, y));
  const states = intersectDim(a.states, b.states, sameSet);
  if (src) out.src = src;
  if (dst) out.dst = dst;
  if (protos) out.protos = protos;
  if (dport) out.dport = dport;
  if (sport) out.sport = sport;
  if (states) out.states = states;
  // Interface names do not intersect as simply (prefixes); keep whichever side constrains.
  const ifs = a.inIfaces ?? b.inIfaces;
  if (ifs) out.inIfaces = ifs;
  return out;
}

export function boxIsEmpty(b: TrafficBox): boolean {
  return [b.src, b.dst, b.protos, b.dport, b.sport, b.states].some((d) => d !== undefined && d.length === 0);
}

/** Smallest box containing all of `boxes` (per-field union). */
export function hullOfBoxes(boxes: TrafficBox[]): TrafficBox {
  const live = boxes.filter((b) => !boxIsEmpty(b));
  if (live.length === 0) return { protos: [] };
  const out: TrafficBox = {};
  const keys = ['src', 'dst', 'protos', 'dport', 'sport', 'states', 'inIfaces'] as const;
  for (const k of keys) {
    if (live.some((b) => b[k] === undefined)) continue;
    (out as Record<string, unknown[]>)[k] = live.flatMap((b) => b[k] as unknown[]);
  }
  return out;
}

function addrRange(family: Family, addr: bigint, mask: bigint): BigRange | undefined {
  const all = allOnes(family);
  const inv = ~mask & all;
  // Only contiguous masks give one interval; others are left unconstrained (a superset, still sound).
  if (((inv + 1n) & inv) !== 0n) return undefined;
  return [addr & mask, (addr & mask) | inv];
}

const portFields = new Set(['tcp.dport', 'udp.dport', 'th.dport', 'tcp.sport', 'udp.sport', 'th.sport']);

/** What a rule can match at most: the non-inverted constraints of its matches. */
export function ruleBox(rule: Rule, family: Family): TrafficBox {
  let box: TrafficBox = {};
  for (const m of rule.matches) box = intersectBoxes(box, matchBox(m, family));
  return box;
}

function matchBox(m: Match, family: Family): TrafficBox {
  switch (m.kind) {
    case 'addr': {
      if (m.invert) return {};
      const r = addrRange(family, m.addr, m.mask);
      return r ? (m.field === 'src' ? { src: [r] } : { dst: [r] }) : {};
    }
    case 'addrRange':
      if (m.invert) return {};
      return m.field === 'src' ? { src: [...m.ranges] } : { dst: [...m.ranges] };
    case 'proto':
      return m.invert || m.proto === 0 ? {} : { protos: [m.proto] };
    case 'ports':
      if (m.invert || m.field === 'either') return {};
      return m.field === 'dport' ? { dport: [...m.ranges] } : { sport: [...m.ranges] };
    case 'ctState': {
      const named = m.states.filter((s): s is CtState => (ALL_STATES as readonly string[]).includes(s));
      if (m.invert) return named.length === m.states.length ? { states: ALL_STATES.filter((s) => !named.includes(s)) } : {};
      return named.length === m.states.length ? { states: named } : {};
    }
    case 'iface':
      return m.invert || m.dir !== 'in' ? {} : { inIfaces: [{ name: m.name, wildcard: m.wildcard }] };
    case 'icmp':
      return m.invert ? {} : { protos: [m.family === 'ipv4' ? IPPROTO_ICMP : IPPROTO_ICMPV6] };
    case 'values': {
      if (m.invert || m.fields.length !== 1) return {};
      const f = m.fields[0] as string;
      const ranges = m.elements.map((e) => e[0]).filter((r): r is BigRange => r !== undefined);
      if (f === 'ip.saddr' || f === 'ip6.saddr') return { src: ranges };
      if (f === 'ip.daddr' || f === 'ip6.daddr') return { dst: ranges };
      if (f === 'meta.l4proto' || f === 'ip.protocol' || f === 'ip6.nexthdr') {
        return { protos: ranges.flatMap((r) => (r[1] - r[0] < 256n ? rangeNumbers(r) : [])) };
      }
      if (portFields.has(f)) {
        const pr = ranges.map((r): PortRange => [Number(r[0]), Number(r[1] > 65535n ? 65535n : r[1])]);
        const proto = f.startsWith('tcp') ? { protos: [IPPROTO_TCP] } : f.startsWith('udp') ? { protos: [IPPROTO_UDP] } : {};
        return { ...proto, ...(f.endsWith('dport') ? { dport: pr } : { sport: pr }) };
      }
      return {};
    }
    default:
      return {};
  }
}

function rangeNumbers(r: BigRange): number[] {
  const out: number[] = [];
  for (let v = r[0]; v <= r[1]; v++) out.push(Number(v));
  return out;
}

/** Every split point a rule's matches introduce, per field (inverted matches split the same way). */
interface Splits {
  src: bigint[];
  dst: bigint[];
  dport: number[];
  sport: number[];
  protos: Set<number>;
  ifaces: Map<string, boolean>;
  icmpTypes: Set<number>;
  states: boolean;
  stateSets: CtState[][];
}

function emptySplits(): Splits {
  return { src: [], dst: [], dport: [], sport: [], protos: new Set(), ifaces: new Map(), icmpTypes: new Set(), states: false, stateSets: [] };
}

/** Each range starts a class at its first value and ends one at its last (split before last + 1). */
function addRangePoints<T extends number | bigint>(into: T[], ranges: readonly (readonly [T, T])[]): void {
  for (const r of ranges) {
    into.push(r[0]);
    into.push((typeof r[1] === 'bigint' ? (r[1] as bigint) + 1n : (r[1] as number) + 1) as T);
  }
}

function collectSplits(m: Match, family: Family, s: Splits): void {
  switch (m.kind) {
    case 'addr': {
      const r = addrRange(family, m.addr, m.mask);
      if (r) addRangePoints(m.field === 'src' ? s.src : s.dst, [r]);
      return;
    }
    case 'addrRange':
      addRangePoints(m.field === 'src' ? s.src : s.dst, m.ranges);
      return;
    case 'proto':
      if (m.proto !== 0) s.protos.add(m.proto);
      return;
    case 'ports':
      if (m.field !== 'sport') addRangePoints(s.dport, m.ranges);
      if (m.field !== 'dport') addRangePoints(s.sport, m.ranges);
      return;
    case 'ctState': {
      s.states = true;
      const named = m.states.filter((x): x is CtState => (ALL_STATES as readonly string[]).includes(x));
      // SNAT/DNAT pseudo-states depend on NAT status, not the state: keep every state apart then.
      s.stateSets.push(...(named.length === m.states.length ? [named] : ALL_STATES.map((x) => [x])));
      return;
    }
    case 'iface':
      if (m.dir === 'in') s.ifaces.set(m.name, (s.ifaces.get(m.name) ?? false) || m.wildcard);
      return;
    case 'icmp':
      s.protos.add(m.family === 'ipv4' ? IPPROTO_ICMP : IPPROTO_ICMPV6);
      if (m.type !== 'any') s.icmpTypes.add(m.type);
      return;
    case 'values': {
      m.fields.forEach((f, i) => {
        const ranges = m.elements.map((e) => e[i]).filter((r): r is BigRange => r !== undefined);
        if (f === 'ip.saddr' || f === 'ip6.saddr') addRangePoints(s.src, ranges);
        else if (f === 'ip.daddr' || f === 'ip6.daddr') addRangePoints(s.dst, ranges);
        else if (f === 'meta.l4proto' || f === 'ip.protocol' || f === 'ip6.nexthdr') {
          for (const r of ranges) if (r[1] - r[0] < 256n) for (const p of rangeNumbers(r)) s.protos.add(p);
        } else if (portFields.has(f)) {
          const pr = ranges.map((r): PortRange => [Number(r[0]), Number(r[1] > 65535n ? 65535n : r[1])]);
          addRangePoints(f.endsWith('dport') ? s.dport : s.sport, pr);
          if (f.startsWith('tcp')) s.protos.add(IPPROTO_TCP);
          if (f.startsWith('udp')) s.protos.add(IPPROTO_UDP);
        } else if (f === 'icmp.type' || f === 'icmpv6.type') {
          for (const r of ranges) if (r[1] - r[0] < 256n) for (const t of rangeNumbers(r)) s.icmpTypes.add(t);
        }
      });
      return;
    }
    default:
      return;
  }
}

/** Elementary intervals of [lo, hi] cut at `points` (each point starts a new interval). */
function elementary<T extends number | bigint>(lo: T, hi: T, points: T[]): [T, T][] {
  const inside = [...new Set(points)].filter((p) => p > lo && p <= hi).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: [T, T][] = [];
  let start = lo;
  for (const p of inside) {
    out.push([start, (typeof p === 'bigint' ? p - 1n : (p as number) - 1) as T]);
    start = p;
  }
  out.push([start, hi]);
  return out;
}

function pieces<T extends number | bigint>(lo: T, hi: T, allowed: readonly (readonly [T, T])[] | undefined, points: T[]): [T, T][] {
  const base = allowed ? intersectRanges([[lo, hi] as const], allowed) : [[lo, hi] as [T, T]];
  return base.flatMap((r) => elementary(r[0], r[1], points));
}

function rep<T extends number | bigint>(r: readonly [T, T], preferred: T | undefined): T {
  return preferred !== undefined && preferred >= r[0] && preferred <= r[1] ? preferred : r[0];
}

function unusedProto(used: Set<number>): number {
  for (const p of [253, 254, 252, 143]) if (!used.has(p)) return p;
  for (let p = 255; p > 0; p--) if (!used.has(p)) return p;
  return 255;
}

function ifaceClasses(ifaces: Map<string, boolean>, seed: ClassSeed, allowed: TrafficBox['inIfaces']): IfaceClass[] {
  if (ifaces.size === 0) return [{ name: seed.inIface, label: seed.inIface ?? 'any interface', other: true }];
  const exact = [...ifaces].filter(([, w]) => !w).map(([n]) => n);
  const prefixes = [...ifaces].filter(([, w]) => w).map(([n]) => n);
  const taken = (n: string): boolean => exact.includes(n);
  const out: IfaceClass[] = exact.map((n) => ({ name: n, label: n, other: false }));
  // The requested packet's own interface represents the class it falls in, so that class is recognisable.
  const own = seed.inIface !== null && !taken(seed.inIface) ? seed.inIface : undefined;
  const longest = (n: string): string | undefined => prefixes.filter((q) => n.startsWith(q)).sort((a, b) => b.length - a.length)[0];
  for (const p of prefixes) {
    let n = `${p}wb0`;
    for (let i = 1; taken(n) || longest(n) !== p; i++) n = `${p}wb${i}`;
    if (own !== undefined && longest(own) === p) n = own;
    out.push({ name: n.slice(0, 15), label: `${p}+${exact.some((e) => e.startsWith(p)) ? ' (other names)' : ''}`, other: false });
  }
  let other = own !== undefined && longest(own) === undefined ? own : 'wbother0';
  for (let i = 1; taken(other) || longest(other) !== undefined; i++) other = `wbother${i}`;
  out.push({ name: other, label: 'any other interface', other: true });
  if (!allowed) return out;
  // Restrict to interfaces the region allows (the region's names or prefixes).
  return out.filter((c) => c.name !== null && allowed.some((a) => (a.wildcard ? c.name?.startsWith(a.name) : c.name === a.name)));
}

export interface ClassEnumeration {
  classes: TrafficClass[];
  /** False when the class count hit `maxClasses` and the rest was not enumerated. */
  complete: boolean;
}

/**
 * Enumerates the classes inside `region`, split only at constants of rules whose own box meets
 * the region (other rules cannot tell the region's packets apart).
 */
export function enumerateClasses(rulesets: Ruleset[], seed: ClassSeed, region: TrafficBox, maxClasses: number): ClassEnumeration {
  const family = seed.family;
  const s = emptySplits();
  for (const rs of rulesets) for (const t of rs.tables) {
    if (t.family !== family && t.family !== 'inet') continue;
    for (const c of t.chains.values()) for (const r of c.rules) {
      if (boxIsEmpty(intersectBoxes(ruleBox(r, family), region))) continue;
      for (const m of r.matches) collectSplits(m, family, s);
    }
  }
  const all = allOnes(family);
  const splits = {
    src: s.src.length > 0, dst: s.dst.length > 0, dport: s.dport.length > 0, sport: s.sport.length > 0,
    iface: s.ifaces.size > 0, state: s.states, icmp: s.icmpTypes.size > 0,
  };
  const srcs = pieces(0n, all, region.src, s.src);
  // Traffic to the host itself is what INPUT rules judge; without destination tests that is the only class.
  const dsts = splits.dst ? pieces(0n, all, region.dst, [...s.dst, ...seed.local.flatMap((a) => [a, a + 1n])])
    : [[seed.dst, seed.dst] as [bigint, bigint]];
  const used = new Set(s.protos);
  used.add(seed.proto);
  let protos: { proto: number; other: boolean }[] = [...used].map((p) => ({ proto: p, other: false }));
  if (region.protos) protos = protos.filter((p) => region.protos?.includes(p.proto));
  else protos.push({ proto: unusedProto(used), other: true });
  if (family === 'ipv6') protos = protos.filter((p) => p.proto !== IPPROTO_ICMP);
  else protos = protos.filter((p) => p.proto !== IPPROTO_ICMPV6);
  const states = statePartition(splits.state, s.stateSets, seed.state, region.states);
  const ifaces = ifaceClasses(s.ifaces, seed, region.inIfaces);

  const classes: TrafficClass[] = [];
  let complete = true;
  const push = (c: TrafficClass): boolean => {
    if (classes.length >= maxClasses) { complete = false; return false; }
    classes.push(c);
    return true;
  };
  outer:
  for (const p of protos) {
    const ported = hasPorts(p.proto);
    const dports: (PortRange | undefined)[] = ported
      ? (splits.dport || region.dport ? pieces(0, PORT_MAX, region.dport, s.dport) : [[0, PORT_MAX]]) : [undefined];
    const sports: (PortRange | undefined)[] = ported
      ? (splits.sport || region.sport ? pieces(0, PORT_MAX, region.sport, s.sport) : [[0, PORT_MAX]]) : [undefined];
    const icmp = p.proto === IPPROTO_ICMP || p.proto === IPPROTO_ICMPV6;
    const types: { t: number; other: boolean }[] = icmp && splits.icmp
      ? [...[...s.icmpTypes].map((t) => ({ t, other: false })), { t: firstUnused(s.icmpTypes), other: true }]
      : icmp ? [{ t: seed.icmpType ?? (family === 'ipv4' ? 8 : 128), other: false }] : [];
    for (const src of srcs) for (const dst of dsts) for (const dp of dports) for (const sp of sports)
      for (const ty of types.length > 0 ? types : [undefined]) for (const ifc of ifaces) for (const st of states) {
        const c: TrafficClass = {
          family, proto: p.proto, protoOther: p.other, src, dst, srcRep: rep(src, seed.src), dstRep: rep(dst, seed.dst),
          iface: ifc, state: st.rep, states: st.states, splits,
        };
        if (dp) { c.dport = dp; c.dportRep = rep(dp, seed.proto === p.proto ? seed.dport : undefined); }
        if (sp) { c.sport = sp; c.sportRep = rep(sp, seed.proto === p.proto && seed.sport !== undefined ? seed.sport : 49152); }
        if (ty) { c.icmpType = ty.t; if (ty.other) c.icmpTypeOther = true; }
        if (!push(c)) break outer;
      }
  }
  return { classes, complete };
}

function firstUnused(types: Set<number>): number {
  for (let t = 0; t < 256; t++) if (!types.has(t)) return t;
  return 255;
}

/**
 * Blocks of conntrack states that every rule treats alike. NEW (nat runs only for it) and
 * INVALID/UNTRACKED (no conntrack entry) always stand apart from the rest.
 */
function statePartition(tested: boolean, sets: CtState[][], seedState: CtState, allowed: CtState[] | undefined): { rep: CtState; states: CtState[] }[] {
  const inRegion = (x: CtState): boolean => !allowed || allowed.includes(x);
  if (!tested) return inRegion(seedState) ? [{ rep: seedState, states: [seedState] }] : [];
  const all = [['NEW'], ['INVALID', 'UNTRACKED'], ...sets] as CtState[][];
  const blocks = new Map<string, CtState[]>();
  for (const x of ALL_STATES.filter(inRegion)) {
    const sig = all.map((set) => (set.includes(x) ? '1' : '0')).join('');
    blocks.set(sig, [...(blocks.get(sig) ?? []), x]);
  }
  return [...blocks.values()].map((states) => ({ rep: states.includes(seedState) ? seedState : states[0] as CtState, states }));
}
