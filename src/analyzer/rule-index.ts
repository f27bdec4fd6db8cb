import type { Chain, Match, Packet, Rule } from './model.ts';
import { hasPorts } from './protocols.ts';

/**
 * Per-chain candidate index. A rule whose destination-port or source-prefix constraint cannot hold
 * for the packet evaluates to "no match" whatever its other matches say, so skipping it leaves the
 * verdict and the order of every rule that can match unchanged. Everything else stays in `always`.
 */
export interface ChainIndex {
  /** Rules with neither a destination-port nor a source-octet constraint. */
  always: Int32Array;
  byPort: Map<number, number[]>;
  /** Rules constrained by the first octet of the source address (IPv4 /8+ or IPv6 /8+). */
  bySrc: Map<number, number[]>;
  /** Both constraints: key port * 256 + octet. */
  byPortSrc: Map<number, number[]>;
  cache: Map<number, Int32Array>;
}

const MIN_RULES = 48;
const MAX_SPAN = 256;
const V4_MAX = 0xffffffffn;

function dportConstraint(m: Match): (readonly [number, number])[] | undefined {
  if (m.invert) return undefined;
  if (m.kind === 'ports' && m.field === 'dport') return m.ranges.map((r) => r);
  if (m.kind === 'values' && m.fields.length === 1) {
    const f = m.fields[0];
    if (f === 'tcp.dport' || f === 'udp.dport' || f === 'th.dport') {
      return m.elements.map((el) => [Number(el[0]?.[0] ?? 0n), Number(el[0]?.[1] ?? 65535n)] as const);
    }
  }
  return undefined;
}

function rulePorts(rule: Rule): number[] | undefined {
  for (const m of rule.matches) {
    const ranges = dportConstraint(m);
    if (!ranges) continue;
    let span = 0;
    for (const r of ranges) span += r[1] - r[0] + 1;
    if (span > MAX_SPAN) continue;
    const ports: number[] = [];
    for (const r of ranges) for (let p = r[0]; p <= r[1]; p++) ports.push(p);
    return ports;
  }
  return undefined;
}

/** First octet every matching source must have (from a non-inverted `-s` of /8 or longer). */
function ruleSrcOctet(rule: Rule): number | undefined {
  for (const m of rule.matches) {
    if (m.kind !== 'addr' || m.field !== 'src' || m.invert) continue;
    const shift = m.mask > V4_MAX ? 120n : 24n;
    if ((m.mask >> shift) === 0xffn) return Number(m.addr >> shift);
  }
  return undefined;
}

function push(map: Map<number, number[]>, key: number, i: number): void {
  const list = map.get(key);
  if (list) { if (list[list.length - 1] !== i) list.push(i); } else map.set(key, [i]);
}

export function buildChainIndex(chain: Chain): ChainIndex | undefined {
  if (chain.rules.length < MIN_RULES) return undefined;
  const always: number[] = [];
  const byPort = new Map<number, number[]>();
  const bySrc = new Map<number, number[]>();
  const byPortSrc = new Map<number, number[]>();
  chain.rules.forEach((rule, i) => {
    const ports = rulePorts(rule);
    const oct = ruleSrcOctet(rule);
    if (!ports) {
      if (oct === undefined) always.push(i); else push(bySrc, oct, i);
      return;
    }
    for (const p of ports) {
      if (oct === undefined) push(byPort, p, i); else push(byPortSrc, p * 256 + oct, i);
    }
  });
  if (always.length === chain.rules.length) return undefined;
  return { always: Int32Array.from(always), byPort, bySrc, byPortSrc, cache: new Map() };
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
  const s = ix.bySrc.get(oct);
  if (s) lists.push(s);
  if (port >= 0) {
    const p = ix.byPort.get(port);
    if (p) lists.push(p);
    const ps = ix.byPortSrc.get(port * 256 + oct);
    if (ps) lists.push(ps);
  }
  const merged = lists.length === 1 ? ix.always : mergeSorted(lists);
  if (ix.cache.size > 4096) ix.cache.clear();
  ix.cache.set(key, merged);
  return merged;
}
