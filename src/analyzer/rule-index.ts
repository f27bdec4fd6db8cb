import type { Chain, Match, Packet, Rule } from './model.ts';
import { AddrMatch } from './iptables/addr-match.ts';
import { SavedRule } from './iptables/saved-rule.ts';
import { hasPorts } from './protocols.ts';

/**
 * Per-chain candidate index. A rule whose destination-port or source-prefix constraint cannot hold
 * for the packet evaluates to "no match" whatever its other matches say, so skipping it leaves the
 * verdict and the order of every rule that can match unchanged. Everything else stays in `always`.
 */
export interface ChainIndex {
  /** Rules with neither a destination-port nor a source-octet constraint. */
  always: Int32Array;
  byPort: KeyedRules;
  /** Rules constrained by the first octet of the source address (IPv4 /8+ or IPv6 /8+). */
  bySrc: KeyedRules;
  /** Both constraints: key port * 256 + octet. */
  byPortSrc: KeyedRules;
  cache: Map<number, Int32Array>;
}

/**
 * Rule lists by key in three flat arrays (a 100,000-rule chain has as many keys, and a Map of
 * small arrays costs an allocation each): the rules of `keys[k]` are `rules[starts[k]..starts[k + 1])`.
 */
export interface KeyedRules {
  /** Ascending. */
  keys: Int32Array;
  starts: Int32Array;
  rules: Int32Array;
}

const MIN_RULES = 48;
const MAX_SPAN = 256;
const V4_MAX = 0xffffffffn;

function dportConstraint(m: Match): readonly (readonly [number, number])[] | undefined {
  if (m.invert) return undefined;
  if (m.kind === 'ports' && m.field === 'dport') return m.ranges;
  if (m.kind === 'values' && m.fields.length === 1) {
    const f = m.fields[0];
    if (f === 'tcp.dport' || f === 'udp.dport' || f === 'th.dport') {
      return m.elements.map((el) => [Number(el[0]?.[0] ?? 0n), Number(el[0]?.[1] ?? 65535n)] as const);
    }
  }
  return undefined;
}

/** The match's destination ports when it constrains them to at most MAX_SPAN ports. */
function matchPorts(m: Match): readonly (readonly [number, number])[] | undefined {
  const ranges = dportConstraint(m);
  if (!ranges) return undefined;
  let span = 0;
  for (const r of ranges) span += r[1] - r[0] + 1;
  return span > MAX_SPAN ? undefined : ranges;
}

function matchSrcOctet(m: Match): number | undefined {
  if (m.kind !== 'addr' || m.field !== 'src' || m.invert) return undefined;
  if (m instanceof AddrMatch && m.family === 'ipv4') return (m.m32 >>> 24) === 0xff ? m.a32 >>> 24 : undefined;
  const shift = m.mask > V4_MAX ? 120n : 24n;
  return (m.mask >> shift) === 0xffn ? Number(m.addr >> shift) : undefined;
}

/*
 * Parsed iptables rules may still hold their matches in pending form (SavedRule); reading that
 * directly keeps index building from materializing every rule of a large chain.
 */
function rulePorts(rule: Rule): readonly (readonly [number, number])[] | undefined {
  if (rule instanceof SavedRule) {
    const n = rule.pendingCount;
    if (n >= 0) {
      for (let i = 0; i < n; i++) {
        const m = rule.pendingMatch(i);
        const ports = m === undefined ? undefined : matchPorts(m);
        if (ports) return ports;
      }
      return undefined;
    }
  }
  for (const m of rule.matches) {
    const ports = matchPorts(m);
    if (ports) return ports;
  }
  return undefined;
}

/** First octet every matching source must have (from a non-inverted `-s` of /8 or longer). */
function ruleSrcOctet(rule: Rule): number | undefined {
  if (rule instanceof SavedRule) {
    const n = rule.pendingCount;
    if (n >= 0) {
      for (let i = 0; i < n; i++) {
        const m = rule.pendingMatch(i);
        if (m === undefined) {
          if (rule.pendingAddressIsSource()) {
            const oct = rule.pendingSourceOctet();
            if (oct >= 0) return oct;
          }
          continue;
        }
        const oct = matchSrcOctet(m);
        if (oct !== undefined) return oct;
      }
      return undefined;
    }
  }
  for (const m of rule.matches) {
    const oct = matchSrcOctet(m);
    if (oct !== undefined) return oct;
  }
  return undefined;
}

/** Key and rule index in one exactly representable number, so one native numeric sort groups them. */
const RULE_BITS = 2 ** 24;

function keyed(pairs: number[]): KeyedRules {
  const sorted = Float64Array.from(pairs).sort();
  const keys: number[] = [];
  const starts: number[] = [];
  const rules: number[] = [];
  let last = -1;
  for (let k = 0; k < sorted.length; k++) {
    const v = sorted[k] as number;
    // A rule listing the same port twice (multiport 22,22) is one candidate.
    if (v === last) continue;
    last = v;
    const key = Math.floor(v / RULE_BITS);
    if (keys.length === 0 || keys[keys.length - 1] !== key) { keys.push(key); starts.push(rules.length); }
    rules.push(v - key * RULE_BITS);
  }
  starts.push(rules.length);
  return { keys: Int32Array.from(keys), starts: Int32Array.from(starts), rules: Int32Array.from(rules) };
}

/** The rules listed under `key`, or undefined. */
function lookup(k: KeyedRules, key: number): Int32Array | undefined {
  let lo = 0;
  let hi = k.keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = k.keys[mid] as number;
    if (v === key) return k.rules.subarray(k.starts[mid], k.starts[mid + 1]);
    if (v < key) lo = mid + 1; else hi = mid - 1;
  }
  return undefined;
}

export function buildChainIndex(chain: Chain): ChainIndex | undefined {
  const n = chain.rules.length;
  if (n < MIN_RULES || n >= RULE_BITS) return undefined;
  const always: number[] = [];
  const byPort: number[] = [];
  const bySrc: number[] = [];
  const byPortSrc: number[] = [];
  for (let i = 0; i < n; i++) {
    const rule = chain.rules[i] as Rule;
    const ranges = rulePorts(rule);
    const oct = ruleSrcOctet(rule);
    if (!ranges) {
      if (oct === undefined) always.push(i); else bySrc.push(oct * RULE_BITS + i);
      continue;
    }
    for (const r of ranges) {
      for (let p = r[0]; p <= r[1]; p++) {
        if (oct === undefined) byPort.push(p * RULE_BITS + i); else byPortSrc.push((p * 256 + oct) * RULE_BITS + i);
      }
    }
  }
  if (always.length === n) return undefined;
  return { always: Int32Array.from(always), byPort: keyed(byPort), bySrc: keyed(bySrc), byPortSrc: keyed(byPortSrc), cache: new Map() };
}

function mergeSorted(lists: ArrayLike<number>[]): Int32Array {
  let total = 0;
  for (const l of lists) total += l.length;
  const out = new Int32Array(total);
  let o = 0;
  for (const l of lists) for (let k = 0; k < l.length; k++) out[o++] = l[k] as number;
  // Each list is ascending and a rule sits in at most one list for a given (port, octet).
  out.sort();
  return out;
}

/** Rule indexes (ascending) that may match; undefined = walk every rule. */
export function candidateRules(ix: ChainIndex, pkt: Packet): Int32Array | undefined {
  // A port-carrying packet with an unknown dport makes port matches UNKNOWN, not NO.
  if (hasPorts(pkt.proto) && pkt.dport === undefined) return undefined;
  const port = hasPorts(pkt.proto) ? (pkt.dport as number) : -1;
  const oct = Number(pkt.family === 'ipv4' ? pkt.src >> 24n : pkt.src >> 120n);
  const key = (port + 1) * 256 + oct;
  const hit = ix.cache.get(key);
  if (hit) return hit;
  const lists: ArrayLike<number>[] = [ix.always];
  const s = lookup(ix.bySrc, oct);
  if (s) lists.push(s);
  if (port >= 0) {
    const p = lookup(ix.byPort, port);
    if (p) lists.push(p);
    const ps = lookup(ix.byPortSrc, port * 256 + oct);
    if (ps) lists.push(ps);
  }
  const merged = lists.length === 1 ? ix.always : mergeSorted(lists);
  if (ix.cache.size > 4096) ix.cache.clear();
  ix.cache.set(key, merged);
  return merged;
}
