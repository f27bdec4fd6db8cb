import type { HostContext, Packet, RejectWith, Rule, RuleRef, Ruleset } from './model.ts';
import { TcpFlag } from './model.ts';
import { compileRuleset } from './compile-ruleset.ts';
import { formatIp } from './ip-address.ts';
import { buildEnv, isLocalDestination, martianReason, packetSummary, primaryAddress, routeIface, toPacket, type PacketInput } from './packet-input.ts';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, hasPorts } from './protocols.ts';
import { runBaseChain, type Decision, type SimRun, type TraceEntry } from './simulate-chain.ts';
import { conntrackActive, runReply, runRequest, type PathOutcome, type RunOutcome } from './simulate-path.ts';
import { describeSymptom, type Symptom } from './symptom.ts';

export type Verdict = 'accept' | 'drop' | 'reject' | 'unknown';

export interface DecidedBy extends RuleRef {
  hook?: string;
}

export interface OutcomeSummary {
  verdict: 'accept' | 'drop' | 'reject';
  rejectWith?: RejectWith;
  decidedBy: DecidedBy;
}

export interface UnknownEntry extends DecidedBy {
  /** Why the rule could not be judged. */
  reasons: string[];
  /** Whether the two assumptions lead to different verdicts. */
  changesVerdict: boolean;
  ifMatches?: OutcomeSummary;
  ifNotMatches?: OutcomeSummary;
}

export interface ChainVerdictRef extends DecidedBy {
  verdict: 'accept' | 'drop' | 'reject';
}

export interface ReplyResult {
  packet: Record<string, unknown>;
  verdict: Verdict;
  rejectWith?: RejectWith;
  decidedBy: DecidedBy;
  trace: TraceEntry[];
  unknowns: UnknownEntry[];
}

export interface ExplainResult {
  packet: Record<string, unknown>;
  verdict: Verdict;
  rejectWith?: RejectWith;
  decidedBy: DecidedBy;
  /** 'forward' when routing (e.g. after DNAT to a container) sends the packet through FORWARD. */
  path: 'local' | 'forward';
  /** The packet after NAT, when NAT changed it. */
  translated?: Record<string, unknown>;
  /** Verdict of every base chain passed, in order (several sources filter the same packet). */
  chainVerdicts: ChainVerdictRef[];
  trace: TraceEntry[];
  /** Rules later on the path that would have accepted this packet had the decider not come first. */
  shadowed: DecidedBy[];
  unknowns: UnknownEntry[];
  warnings: string[];
  symptom: Symptom;
  reply?: ReplyResult;
}

export interface ExplainOptions {
  /** Use the per-chain candidate index (same verdicts; the trace lists only candidate rules). */
  useIndex?: boolean;
  /** Build the trace (default true). */
  trace?: boolean;
  /** Give up splitting on unknown matches after this many outcomes (default 64). */
  maxBranches?: number;
}

function ref(d: Decision): DecidedBy {
  const r: DecidedBy = { source: d.table.source, table: d.table.name, chain: d.chain.name, hook: d.hook };
  if (d.rule) {
    r.position = d.rule.position;
    if (d.rule.handle !== undefined) r.handle = d.rule.handle;
    r.rule = d.rule.text;
  }
  if (d.policy) r.policy = d.policy;
  return r;
}

function summary(o: PathOutcome): OutcomeSummary {
  const s: OutcomeSummary = { verdict: o.verdict, decidedBy: ref(o.decider) };
  if (o.rejectWith) s.rejectWith = o.rejectWith;
  return s;
}

interface Leaf {
  assumptions: Map<Rule, boolean>;
  outcome: PathOutcome;
  run: SimRun;
}

interface Exploration {
  leaves: Leaf[];
  branches: Map<Rule, { by: Decision; reasons: string[] }>;
  truncated: boolean;
}

/** Depth-first over "unknown match: assume no / assume yes", the "no" branch first. */
function explore(mkRun: (a: Map<Rule, boolean>) => SimRun, step: (run: SimRun) => RunOutcome, maxLeaves: number): Exploration {
  const stack: Map<Rule, boolean>[] = [new Map()];
  const leaves: Leaf[] = [];
  const branches = new Map<Rule, { by: Decision; reasons: string[] }>();
  let truncated = false;
  while (stack.length > 0) {
    const assumptions = stack.pop() as Map<Rule, boolean>;
    const run = mkRun(assumptions);
    const r = step(run);
    if (r.kind === 'done') {
      leaves.push({ assumptions, outcome: r.outcome, run });
      continue;
    }
    if (!branches.has(r.rule)) branches.set(r.rule, { by: r.by, reasons: r.reasons });
    if (leaves.length + stack.length + 2 > maxLeaves) { truncated = true; continue; }
    stack.push(new Map(assumptions).set(r.rule, true));
    stack.push(new Map(assumptions).set(r.rule, false));
  }
  return { leaves, branches, truncated };
}

function sameOutcome(a: PathOutcome, b: PathOutcome): boolean {
  return a.verdict === b.verdict && a.rejectWith === b.rejectWith;
}

function unknownEntries(ex: Exploration): UnknownEntry[] {
  const out: UnknownEntry[] = [];
  for (const [rule, info] of ex.branches) {
    const yes = ex.leaves.find((l) => l.assumptions.get(rule) === true);
    const no = ex.leaves.find((l) => l.assumptions.get(rule) === false);
    const e: UnknownEntry = { ...ref(info.by), reasons: info.reasons,
      changesVerdict: !!yes && !!no && !sameOutcome(yes.outcome, no.outcome) };
    if (yes) e.ifMatches = summary(yes.outcome);
    if (no) e.ifNotMatches = summary(no.outcome);
    out.push(e);
  }
  return out;
}

/**
 * The host's answer to `req`. It leaves by the route to the client (`outIface`); only when the host
 * context cannot say (no route or connected subnet covers the client) is the request's input
 * interface assumed, which is right for a symmetric path and wrong for asymmetric routing.
 */
function replyPacket(req: Packet, outIface: (reply: Packet) => string | null): Packet | undefined {
  const p: Packet = {
    family: req.family, proto: req.proto, src: req.dst, dst: req.snatFrom ?? req.src, tcpFlags: 0,
    inIface: '', outIface: req.inIface, ctState: req.ctState === 'NEW' ? 'ESTABLISHED' : req.ctState,
    mark: 0, ctMark: req.ctMark, ctStatus: [...req.ctStatus], direction: 'reply',
  };
  if (req.ctState === 'INVALID') p.ctState = req.ctState;
  if (hasPorts(req.proto)) {
    if (req.dport !== undefined) p.sport = req.dport;
    if (req.sport !== undefined) p.dport = req.sport;
    if (req.proto === 6) p.tcpFlags = (req.tcpFlags & TcpFlag.SYN) !== 0 ? TcpFlag.SYN | TcpFlag.ACK : TcpFlag.ACK;
  } else if (req.proto === IPPROTO_ICMP || req.proto === IPPROTO_ICMPV6) {
    const echo = req.proto === IPPROTO_ICMP ? 8 : 128;
    if (req.icmpType !== echo) return undefined;
    p.icmpType = echo === 8 ? 0 : 129;
    p.icmpCode = 0;
  }
  if (req.ctState === 'UNTRACKED') p.ctState = untrackedReplyState(p);
  p.outIface = outIface(p) ?? req.inIface;
  // The connection lives in a non-default zone, but the host's answer carries no zone: conntrack
  // meets it in zone 0 as the first packet of a new flow (measured, FINDINGS.md "CT templates").
  if (req.ctState !== 'UNTRACKED' && (req.ctZone ?? 0) !== 0) {
    p.ctState = untrackedReplyState(p);
    p.ctStatus = [];
    p.ctMark = 0;
  }
  return p;
}

/**
 * An untracked request leaves no connection, so conntrack meets the answer in OUTPUT as the first
 * packet of a new flow: a SYN-ACK or an echo reply is INVALID there, a bare ACK or UDP is NEW
 * (measured by test/differential, regressions/iptables-legacy-seedfixture-tcp-80.json).
 */
function untrackedReplyState(reply: Packet): Packet['ctState'] {
  if (reply.proto === 6) return (reply.tcpFlags & TcpFlag.SYN) !== 0 ? 'INVALID' : 'NEW';
  if (reply.proto === IPPROTO_ICMP || reply.proto === IPPROTO_ICMPV6) return 'INVALID';
  return 'NEW';
}

/** Matching ACCEPT rules right behind the decider in the same base chain walk. */
function findShadowed(leaf: Leaf): DecidedBy[] {
  const { outcome } = leaf;
  const d = outcome.decisive;
  if (!d || !outcome.decider.rule || outcome.verdict === 'accept') return [];
  const skip = new Set<Rule>([outcome.decider.rule]);
  const out: DecidedBy[] = [];
  for (let i = 0; i < 16; i++) {
    const run: SimRun = { ...leaf.run, forceNo: skip, noBranch: true, trace: null, warnings: new Set(), unknownSeen: new Map() };
    const r = runBaseChain(d.entry, { ...d.packet, ctStatus: [...d.packet.ctStatus] }, run, d.ctAttached);
    if (r.kind !== 'accept' || !r.by.rule) break;
    out.push(ref(r.by));
    skip.add(r.by.rule);
  }
  return out;
}

interface Prepared {
  compiled: ReturnType<typeof compileRuleset>;
  ruleset: Ruleset;
}

function explainOne(prep: Prepared, input: PacketInput, ctx: HostContext | undefined, opts: ExplainOptions): ExplainResult {
  const pkt = toPacket(input, ctx);
  const env = buildEnv(pkt, ctx);
  const wantTrace = opts.trace !== false;
  const maxLeaves = opts.maxBranches ?? 64;
  const ctActive = conntrackActive(prep.ruleset, pkt.family);
  const mkRun = (direction: 'request' | 'reply') => (assumptions: Map<Rule, boolean>): SimRun => ({
    compiled: prep.compiled, env, assumptions, noBranch: false, trace: wantTrace ? [] : null, useIndex: opts.useIndex === true,
    direction, warnings: new Set(), unknownSeen: new Map(), redirected: false, natBound: false, conntrackActive: ctActive,
    primaryAddress: (iface, family, dst) => primaryAddress(ctx, iface, family, dst),
  });
  const hooks = {
    isLocal: (p: Packet) => isLocalDestination(p, env),
    routeIface: (p: Packet) => routeIface(p, ctx),
    martian: (p: Packet) => martianReason(p, env),
  };
  const ex = explore(mkRun('request'), (run) => runRequest(pkt, run, hooks), maxLeaves);
  const primary = ex.leaves[0] as Leaf;
  const warnings = new Set<string>(prep.ruleset.warnings);
  for (const l of ex.leaves) for (const w of l.run.warnings) warnings.add(w);
  if (ex.truncated) warnings.add(`more than ${maxLeaves} combinations of unjudgeable rules; some outcomes were not explored`);
  const unknowns = unknownEntries(ex);
  const agree = !ex.truncated && ex.leaves.every((l) => sameOutcome(l.outcome, primary.outcome));
  const o = primary.outcome;
  const result: ExplainResult = {
    packet: packetSummary(pkt),
    verdict: agree ? o.verdict : 'unknown',
    decidedBy: ref(o.decider),
    path: o.path,
    chainVerdicts: o.chainVerdicts.map((c) => ({ ...ref(c.decision), verdict: c.verdict })),
    trace: primary.run.trace ?? [],
    shadowed: agree ? findShadowed(primary) : [],
    unknowns,
    warnings: [],
    symptom: { errno: null, message: '', client: '', tcpdump: '' },
  };
  if (agree && o.rejectWith) result.rejectWith = o.rejectWith;
  if (!agree) {
    const decisive = unknowns.find((u) => u.changesVerdict) ?? unknowns[0];
    if (decisive) {
      const { reasons: _r, changesVerdict: _c, ifMatches: _m, ifNotMatches: _n, ...where } = decisive;
      result.decidedBy = where;
    }
  }
  if (o.packet.dst !== pkt.dst || o.packet.dport !== pkt.dport) result.translated = packetSummary(o.packet);

  let replyVerdict: Verdict | undefined;
  if (agree && o.verdict === 'accept' && o.path === 'local') {
    // An answer to one of the host's own addresses is routed over lo (the local table comes first).
    const rp = replyPacket(o.packet, (p) => (isLocalDestination(p, env) ? 'lo' : routeIface(p, ctx)));
    if (rp) {
      const rex = explore(mkRun('reply'), (run) => runReply(rp, run), maxLeaves);
      const rprimary = rex.leaves[0] as Leaf;
      const ragree = !rex.truncated && rex.leaves.every((l) => sameOutcome(l.outcome, rprimary.outcome));
      for (const l of rex.leaves) for (const w of l.run.warnings) warnings.add(w);
      const reply: ReplyResult = { packet: packetSummary(rp), verdict: ragree ? rprimary.outcome.verdict : 'unknown',
        decidedBy: ref(rprimary.outcome.decider), trace: rprimary.run.trace ?? [], unknowns: unknownEntries(rex) };
      if (ragree && rprimary.outcome.rejectWith) reply.rejectWith = rprimary.outcome.rejectWith;
      result.reply = reply;
      replyVerdict = reply.verdict;
      if (reply.verdict !== 'accept') {
        warnings.add(`the request is accepted but the reply (${rp.proto === 6 ? 'SYN-ACK' : 'answer'}) is ${reply.verdict === 'unknown' ? 'possibly blocked' : 'blocked'} in ${reply.decidedBy.table} ${reply.decidedBy.chain}`);
      }
    }
  }
  result.symptom = describeSymptom({
    family: pkt.family, proto: pkt.proto, client: formatIp(pkt.family, pkt.src), server: formatIp(pkt.family, pkt.dst),
    verdict: result.verdict, ...(result.rejectWith ? { rejectWith: result.rejectWith } : {}),
    ...(pkt.sport !== undefined ? { sport: pkt.sport } : {}), ...(pkt.dport !== undefined ? { dport: pkt.dport } : {}),
    ...(replyVerdict ? { replyVerdict } : {}),
  });
  if (o.path === 'forward') warnings.add(`the packet is routed through FORWARD to ${formatIp(o.packet.family, o.packet.dst)} (not delivered locally)`);
  result.warnings = [...warnings];
  return result;
}

/** Explains one packet: verdict, deciding rule, trace, shadowed rules, unknowns, symptom and reply. */
export function explainPacket(ruleset: Ruleset, packet: PacketInput, ctx?: HostContext, opts: ExplainOptions = {}): ExplainResult {
  return explainOne({ compiled: compileRuleset(ruleset), ruleset }, packet, ctx, opts);
}

/** Batch form; uses the candidate index unless `useIndex: false`. Results are in input order. */
export function explainPackets(ruleset: Ruleset, packets: PacketInput[], ctx?: HostContext, opts: ExplainOptions = {}): ExplainResult[] {
  const prep = { compiled: compileRuleset(ruleset), ruleset };
  const o = { ...opts, useIndex: opts.useIndex ?? true };
  return packets.map((p) => explainOne(prep, p, ctx, o));
}
