import type { BigRange, CtState, Family, HostContext, Ruleset } from './model.ts';
import type { Verdict } from './explain-packet.ts';
import { quickVerdict } from './fix-verdict.ts';
import type { PacketInput } from './packet-input.ts';
import { toPacket } from './packet-input.ts';
import { allOnes, formatIp } from './ip-address.ts';
import { buildEnv } from './packet-input.ts';
import { protoName } from './protocols.ts';
import { ALL_STATES, enumerateClasses, type TrafficBox, type TrafficClass } from './fix-traffic-classes.ts';

/** One class of traffic whose fate differs between the two rulesets. */
export interface BlastChange {
  from: Verdict;
  to: Verdict;
  fromRejectWith?: string;
  toRejectWith?: string;
  classDescription: string;
  /** The class holds the flow the fix was asked for. */
  requested: boolean;
  /** The representative packet that was simulated. */
  packet: PacketInput;
}

export interface BlastRadius {
  changes: BlastChange[];
  /** Plain-words statements, grouped: "opens 23/tcp to every source", "no other traffic changes". */
  summary: string[];
  classesExamined: number;
  /** False when there were more classes than `maxClasses`; the summary then says so. */
  complete: boolean;
  /** Rough amount of traffic that changes (addresses × ports × states …); ranks candidates. */
  weight: number;
}

export interface BlastRadiusOptions {
  /** The flow the change is meant for; it picks representatives and is named as such in the summary. */
  packet: PacketInput;
  /** Only traffic inside this box can change (computed from the edit); unconstrained when absent. */
  region?: TrafficBox;
  /** The sources the fix is meant to open (the requested subnet); default the packet's source alone. */
  requestedSources?: BigRange;
  /**
   * Memo of verdicts on `before`, keyed by representative packet; pass the same map to every
   * candidate of one synthesis so the unchanged ruleset is simulated once per class.
   */
  beforeCache?: Map<string, { verdict: Verdict; rejectWith?: string }>;
  /** Upper bound on simulated classes (each is simulated twice). Default 20000. */
  maxClasses?: number;
}

interface Outcome {
  verdict: Verdict;
  rejectWith?: string;
}

function classPacket(c: TrafficClass): PacketInput {
  const p: PacketInput = { family: c.family, proto: c.proto, src: formatIp(c.family, c.srcRep), dst: formatIp(c.family, c.dstRep), state: c.state };
  if (c.dportRep !== undefined) p.dport = c.dportRep;
  if (c.sportRep !== undefined) p.sport = c.sportRep;
  if (c.icmpType !== undefined) p.icmpType = c.icmpType;
  if (c.iface.name !== null) p.inIface = c.iface.name;
  return p;
}

function simulate(rs: Ruleset, p: PacketInput, ctx: HostContext): Outcome {
  try {
    return quickVerdict(rs, p, ctx);
  } catch {
    // A representative the packet validator refuses cannot happen on the wire; count it as unknown.
    return { verdict: 'unknown' };
  }
}

/** Largest CIDR blocks covering [lo, hi]. */
export function rangeToCidrs(family: Family, r: BigRange): string[] {
  const bits = family === 'ipv4' ? 32 : 128;
  const out: string[] = [];
  let lo = r[0];
  while (lo <= r[1]) {
    let len = bits;
    while (len > 0) {
      const size = 1n << BigInt(bits - len + 1);
      if ((lo & (size - 1n)) !== 0n || lo + size - 1n > r[1]) break;
      len--;
    }
    out.push(len === bits ? formatIp(family, lo) : `${formatIp(family, lo)}/${len}`);
    lo += 1n << BigInt(bits - len);
  }
  return out;
}

function mergeRanges(rs: BigRange[]): BigRange[] {
  const sorted = [...rs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: [bigint, bigint][] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1n) { if (r[1] > last[1]) last[1] = r[1]; } else out.push([r[0], r[1]]);
  }
  return out;
}

function portText(c: TrafficClass): string {
  const name = c.protoOther ? 'other protocols' : protoName(c.proto);
  if (c.dport) {
    const [a, b] = c.dport;
    if (a === 0 && b === 65535) return `all ${name} ports`;
    return `${a === b ? a : `${a}-${b}`}/${name}`;
  }
  if (c.icmpType !== undefined && c.splits.icmp) return c.icmpTypeOther ? `${name} (other types)` : `${name} type ${c.icmpType}`;
  if (c.protoOther) return name;
  return /^\d+$/.test(name) ? `protocol ${name}` : name;
}

function describeClass(c: TrafficClass): string {
  const src = rangeToCidrs(c.family, c.src);
  const srcText = c.src[0] === 0n && c.src[1] === allOnes(c.family) ? 'any source' : src.length > 3 ? `${src[0]} … ${src[src.length - 1]}` : src.join(', ');
  const dst = rangeToCidrs(c.family, c.dst);
  const dstText = c.dst[0] === c.dst[1] ? formatIp(c.family, c.dst[0]) : dst.length > 3 ? `${dst[0]} … ${dst[dst.length - 1]}` : dst.join(', ');
  const parts = [`${portText(c)} from ${srcText} to ${dstText}`];
  if (c.sport && (c.sport[0] !== 0 || c.sport[1] !== 65535)) parts.push(`source port ${c.sport[0]}-${c.sport[1]}`);
  if (c.splits.iface) parts.push(`in on ${c.iface.label}`);
  if (c.splits.state) parts.push(`state ${c.states.join('/')}`);
  return parts.join(', ');
}

function verb(from: Outcome, to: Outcome): { verb: string; note?: string } {
  const open = (v: Verdict): boolean => v === 'accept';
  const unsure = 'depends on rules that cannot be judged offline';
  if (!open(from.verdict) && open(to.verdict)) return from.verdict === 'unknown' ? { verb: 'opens', note: 'was uncertain before' } : { verb: 'opens' };
  if (open(from.verdict) && !open(to.verdict)) {
    if (to.verdict === 'unknown') return { verb: 'may block', note: unsure };
    return { verb: to.verdict === 'drop' ? 'drops (was accepted)' : 'rejects (was accepted)' };
  }
  if (to.verdict === 'unknown') return { verb: 'may open', note: unsure };
  if (from.verdict === 'unknown') return { verb: to.verdict === 'drop' ? 'drops' : 'rejects', note: 'was uncertain before' };
  if (from.verdict === to.verdict) return { verb: `changes the reject type (${from.rejectWith ?? '?'} → ${to.rejectWith ?? '?'}) of` };
  return { verb: `${to.verdict === 'drop' ? 'silently drops' : 'rejects'} instead of ${from.verdict === 'drop' ? 'dropping' : 'rejecting'}` };
}

interface Row {
  cls: TrafficClass;
  before: Outcome;
  after: Outcome;
  requested: boolean;
  /** Entirely inside the requested flow (its source range, protocol, port and state). */
  withinRequest: boolean;
}

interface Seed {
  src: bigint;
  dst: bigint;
  proto: number;
  dport?: number;
  state: CtState;
  inIface: string | null;
  sources: BigRange;
}

function withinRequest(c: TrafficClass, seed: Seed): boolean {
  if (c.proto !== seed.proto || c.protoOther || c.src[0] < seed.sources[0] || c.src[1] > seed.sources[1]) return false;
  if (seed.dport !== undefined && c.dport && (c.dport[0] !== seed.dport || c.dport[1] !== seed.dport)) return false;
  return !c.splits.state || c.states.every((x) => x === seed.state);
}

function containsRequested(c: TrafficClass, seed: Seed): boolean {
  if (c.proto !== seed.proto || c.protoOther) return false;
  if (seed.src < c.src[0] || seed.src > c.src[1] || seed.dst < c.dst[0] || seed.dst > c.dst[1]) return false;
  if (c.dport && seed.dport !== undefined && (seed.dport < c.dport[0] || seed.dport > c.dport[1])) return false;
  if (c.splits.state && !c.states.includes(seed.state)) return false;
  // An unspecified interface stands for whichever one the client's packets use.
  if (c.splits.iface && seed.inIface !== null && c.iface.name !== seed.inIface) return false;
  return true;
}

function isEverything(family: Family, ranges: BigRange[]): boolean {
  const m = mergeRanges(ranges);
  return m.length === 1 && (m[0] as BigRange)[0] === 0n && (m[0] as BigRange)[1] === allOnes(family);
}

function complement(family: Family, ranges: BigRange[]): BigRange[] {
  const out: BigRange[] = [];
  let next = 0n;
  for (const r of mergeRanges(ranges)) {
    if (r[0] > next) out.push([next, r[0] - 1n]);
    next = r[1] + 1n;
  }
  if (next <= allOnes(family)) out.push([next, allOnes(family)]);
  return out;
}

function cidrList(family: Family, ranges: BigRange[]): string {
  const cidrs = mergeRanges(ranges).flatMap((r) => rangeToCidrs(family, r));
  return cidrs.length > 6 ? `${cidrs.slice(0, 6).join(', ')} and ${cidrs.length - 6} more ranges` : cidrs.join(', ');
}

/** "from 10.0.0.0/8" or, when shorter, "from every source except 10.0.0.0/8". */
function sourceWords(family: Family, ranges: BigRange[], toOpen: boolean): string {
  if (isEverything(family, ranges)) return toOpen ? 'to every source' : 'for every source';
  const direct = mergeRanges(ranges).flatMap((r) => rangeToCidrs(family, r));
  const rest = complement(family, ranges);
  const except = rest.flatMap((r) => rangeToCidrs(family, r));
  if (except.length < direct.length) return `from every source except ${cidrList(family, rest)}`;
  return `from ${cidrList(family, ranges)}`;
}

interface Statement {
  verb: string;
  cls: TrafficClass;
  ports: [number, number][];
  rest: string;
  unsure?: string;
  thenAll: boolean;
  request?: 'the requested flow' | 'includes the requested flow';
}

/** `23/tcp`, `22, 80/tcp`, `all tcp ports except 22`. */
function portsText(st: Statement): string {
  const c = st.cls;
  if (!c.dport) return portText(c);
  const name = c.protoOther ? 'other protocols' : protoName(c.proto);
  const ranges = [...st.ports].sort((a, b) => a[0] - b[0]);
  const fmt = (r: readonly [number, number]): string => (r[0] === r[1] ? String(r[0]) : `${r[0]}-${r[1]}`);
  const gaps: [number, number][] = [];
  let next = 0;
  for (const r of ranges) { if (r[0] > next) gaps.push([next, r[0] - 1]); next = r[1] + 1; }
  if (next <= 65535) gaps.push([next, 65535]);
  if (gaps.length === 0) return `all ${name} ports`;
  if (gaps.length < ranges.length) return `all ${name} ports except ${gaps.map(fmt).join(', ')}`;
  return `${ranges.map(fmt).join(', ')}/${name}`;
}

function summarize(rows: Row[], changes: Row[], family: Family, complete: boolean): string[] {
  const groups = new Map<string, Row[]>();
  for (const r of changes) {
    const key = [r.before.verdict, r.before.rejectWith, r.after.verdict, r.after.rejectWith, r.cls.proto, r.cls.protoOther,
      r.cls.dport?.join('-'), r.cls.icmpType].join('|');
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const statements: Statement[] = [];
  for (const g of groups.values()) {
    const head = g[0] as Row;
    const toOpen = head.after.verdict === 'accept';
    const same = (r: Row): boolean => r.cls.proto === head.cls.proto && r.cls.protoOther === head.cls.protoOther
      && r.cls.dport?.join('-') === head.cls.dport?.join('-') && r.cls.icmpType === head.cls.icmpType;
    const settledVerdict = (r: Row): boolean => same(r) && r.before.verdict === r.after.verdict && r.before.verdict === head.after.verdict;
    // Classes that already had the new verdict count as covered: "every source" describes the end state.
    const where = (r: Row): string => `${r.cls.state}|${r.cls.iface.label}|${r.cls.dst.join('-')}`;
    const keys = new Set(g.map(where));
    const coveredRows = [...g, ...rows.filter((r) => settledVerdict(r) && keys.has(where(r)))];
    const changedSrc = g.map((r) => r.cls.src);
    const v = verb(head.before, head.after);
    let rest = sourceWords(family, changedSrc, toOpen);
    if (head.cls.splits.iface) {
      const ifs = [...new Set(g.map((r) => r.cls.iface))];
      const states = new Set(g.map((r) => r.cls.state));
      // Interfaces whose traffic already had the new verdict do not narrow the statement.
      const coveredIfs = new Set([...g, ...rows.filter((r) => settledVerdict(r) && states.has(r.cls.state))].map((r) => r.cls.iface.label));
      const allIfs = new Set(rows.map((r) => r.cls.iface.label));
      if (coveredIfs.size < allIfs.size || ifs.every((i) => !i.other)) rest += ` on ${ifs.map((i) => i.label).join(', ')}`;
    }
    if (head.cls.splits.dst) {
      const dsts = mergeRanges(g.map((r) => r.cls.dst)).flatMap((r) => rangeToCidrs(family, r));
      if (dsts.length <= 3) rest += ` to ${dsts.join(', ')}`;
    }
    if (head.cls.splits.state) {
      const states = ALL_STATES.filter((x) => g.some((r) => r.cls.states.includes(x)));
      if (!(states.length === 1 && states[0] === 'NEW')) rest += ` (conntrack states ${states.join(', ')})`;
    }
    const st: Statement = { verb: v.verb, cls: head.cls, ports: head.cls.dport ? [[head.cls.dport[0], head.cls.dport[1]]] : [], rest,
      thenAll: !isEverything(family, changedSrc) && toOpen && isEverything(family, coveredRows.map((r) => r.cls.src)) };
    if (v.note) st.unsure = v.note;
    if (g.every((r) => r.withinRequest) && g.some((r) => r.requested)) st.request = 'the requested flow';
    else if (g.some((r) => r.requested)) st.request = 'includes the requested flow';
    // One statement per port range reads badly: merge those that differ only in the port.
    const twin = statements.find((o) => o.verb === st.verb && o.cls.proto === st.cls.proto && o.cls.protoOther === st.cls.protoOther
      && o.cls.dport && st.cls.dport && o.rest === st.rest && o.unsure === st.unsure && o.thenAll === st.thenAll);
    if (twin) {
      twin.ports.push(...st.ports);
      if (st.request) twin.request = 'includes the requested flow';
    } else statements.push(st);
  }
  const out = statements.map((st) => {
    const notes = [st.request, st.unsure, st.thenAll ? `${portsText(st)} is then open to every source` : undefined].filter((n): n is string => n !== undefined);
    const text = `${st.verb} ${portsText(st)} ${st.rest}`;
    return notes.length > 0 ? `${text} (${notes.join('; ')})` : text;
  });
  if (changes.length === 0) out.push('no traffic changes');
  else if (changes.every((r) => r.withinRequest)) out.push('no other traffic changes');
  if (!complete) out.push('(not every class was examined: the ruleset induces too many; treat this as a lower bound)');
  return out;
}

function weightOf(c: TrafficClass): number {
  const n = (r: readonly [bigint, bigint] | readonly [number, number] | undefined): number => (r ? Number(r[1]) - Number(r[0]) + 1 : 1);
  return n(c.src) * n(c.dst) * n(c.dport) * (c.protoOther ? 100 : 1);
}

/**
 * Every class of traffic whose verdict differs between `before` and `after`, in words.
 * Classes come from the rulesets' own constants (see fix-traffic-classes.ts), never from sampling.
 */
export function blastRadius(before: Ruleset, after: Ruleset, ctx: HostContext, opts: BlastRadiusOptions): BlastRadius {
  const pkt = toPacket(opts.packet, ctx);
  const env = buildEnv(pkt, ctx);
  const local = [...env.local[pkt.family]];
  const seed = {
    sources: opts.requestedSources ?? [pkt.src, pkt.src] as BigRange,
    family: pkt.family, src: pkt.src, dst: pkt.dst, proto: pkt.proto, inIface: opts.packet.inIface ?? null, state: pkt.ctState, local,
    ...(pkt.dport !== undefined ? { dport: pkt.dport } : {}), ...(pkt.sport !== undefined ? { sport: pkt.sport } : {}),
    ...(pkt.icmpType !== undefined ? { icmpType: pkt.icmpType } : {}),
  };
  const { classes, complete } = enumerateClasses([before, after], seed, opts.region ?? {}, opts.maxClasses ?? 20000);
  const rows: Row[] = classes.map((cls) => {
    const p = classPacket(cls);
    const key = JSON.stringify(p);
    let b = opts.beforeCache?.get(key);
    if (!b) { b = simulate(before, p, ctx); opts.beforeCache?.set(key, b); }
    return { cls, before: b, after: simulate(after, p, ctx), requested: containsRequested(cls, seed), withinRequest: withinRequest(cls, seed) };
  });
  const changes = rows.filter((r) => r.before.verdict !== r.after.verdict || r.before.rejectWith !== r.after.rejectWith);
  return {
    changes: changes.map((r) => {
      const c: BlastChange = { from: r.before.verdict, to: r.after.verdict, classDescription: describeClass(r.cls), requested: r.requested, packet: classPacket(r.cls) };
      if (r.before.rejectWith) c.fromRejectWith = r.before.rejectWith;
      if (r.after.rejectWith) c.toRejectWith = r.after.rejectWith;
      return c;
    }),
    summary: summarize(rows, changes, pkt.family, complete),
    classesExamined: classes.length,
    complete,
    weight: changes.reduce((s, r) => s + weightOf(r.cls), 0),
  };
}
