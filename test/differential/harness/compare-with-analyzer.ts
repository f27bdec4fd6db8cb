import { explainPacket, mergeRulesets, parseIpsetSave, parseRuleset, type ExplainResult, type PacketInput } from '../../../src/analyzer/index.ts';
import type { LoadedRuleset, ProbeAnswer } from './kernel-oracle.ts';
import { rejectTypeOf } from './reject-type-of.ts';
import type { ObservedReply } from './start-reply-capture.ts';
import { FW_INTERFACES, FW_ROUTES, LOCAL_ADDRESSES, LOCAL_ADDRESSES6 } from './lab-topology.ts';
import type { ProbePacket } from './start-packet-sender.ts';
import type { CtState } from './ruleset-model.ts';

/** The firewall namespace as the analyzer must be told about it. */
export const LAB_HOST_CONTEXT = {
  localAddresses: [...LOCAL_ADDRESSES, ...LOCAL_ADDRESSES6],
  // In `ip -j addr` order, as a real host context would list them: the kernel puts a newer global
  // IPv6 address ahead of older ones (the first one is what IPv6 REDIRECT picks); IPv4 keeps add order.
  interfaces: FW_INTERFACES.map((i) => ({ name: i.name, addresses: [...i.addresses.map((a) => `${a}/32`), ...[...i.addresses6].reverse().map((a) => `${a}/128`)] })),
  // The lab answers through its default route, not by the probe's interface: `-o` rules see out0.
  routes: FW_ROUTES.map((r) => ({ ...r })),
};

/** A comparable answer: where each base chain on the path decided, and the overall verdict. */
export interface ComparableAnswer {
  verdict: string;
  decidedBy: string;
  path: string[];
  /** Delivered locally or routed through FORWARD (after DNAT to another host). */
  route?: 'local' | 'forward';
  /**
   * The firewall's own answer (echo reply, SYN-ACK) through OUTPUT/POSTROUTING: "verdict by rule".
   * Compared only when the kernel observed one (see ProbeAnswer.reply).
   */
  reply?: string;
  /**
   * When the answer is REJECTed in OUTPUT: the error type. For the kernel it is the error the harness's
   * self-error guard caught (what the REJECT really produced), absent when it produced nothing.
   */
  replyRejectWith?: string;
  /**
   * Reject type. For the kernel it is read off the wire (the reply the firewall actually sent), and
   * absent when a REJECT sent nothing (e.g. no ICMP error is sent about an ICMP error).
   */
  rejectWith?: string;
  /** Kernel only: what left the firewall in answer to the probe, for the report. */
  wire?: string;
}

export interface AnalyzerRun {
  input: PacketInput;
  comparable: ComparableAnswer;
  /**
   * The other outcomes the analyzer offers when a match cannot be judged offline (limit, recent,
   * string, …): the kernel may take any of them. Empty when an unknown has any other reason, so
   * a gap in what the analyzer claims to simulate is never excused this way.
   */
  alternatives: ComparableAnswer[];
  /** The analyzer's own result (trimmed), or its exception. */
  raw: unknown;
}

export function analyzerInput(packet: ProbePacket, state: CtState): PacketInput {
  const input: PacketInput = { proto: packet.proto, src: packet.src, dst: packet.dst, inIface: packet.inIface, state };
  if (packet.sport !== undefined) input.sport = packet.sport;
  if (packet.dport !== undefined) input.dport = packet.dport;
  if (packet.tcpFlags !== undefined) input.tcpFlags = packet.tcpFlags;
  if (packet.icmpType !== undefined) input.icmpType = packet.icmpType;
  if (packet.icmpCode !== undefined) input.icmpCode = packet.icmpCode;
  return input;
}

/**
 * Parses exactly what the kernel read back (one readback per loaded backend, merged when several
 * were active at once) and explains the packet; exceptions become answers too.
 */
export function runAnalyzer(loaded: LoadedRuleset | readonly LoadedRuleset[], packet: ProbePacket, state: CtState): AnalyzerRun {
  const input = analyzerInput(packet, state);
  const parts = Array.isArray(loaded) ? loaded : [loaded as LoadedRuleset];
  try {
    const rulesets = parts.map((part) => parseRuleset(part.readback, part.backend === 'nft'
      ? { format: 'nft-json', source: 'nft' }
      : { format: 'iptables-save', source: part.backend, family: part.family }));
    const ruleset = rulesets.length === 1 ? rulesets[0] : mergeRulesets(...rulesets);
    if (ruleset === undefined) throw new Error('nothing loaded');
    const ipsetSave = parts.find((p) => p.ipsetSave !== undefined)?.ipsetSave;
    const result = explainPacket(ruleset, input, ipsetSave === undefined ? LAB_HOST_CONTEXT : { ...LAB_HOST_CONTEXT, ipsets: parseIpsetSave(ipsetSave) });
    return { input, comparable: fromAnalyzer(result), alternatives: alternativesOf(result), raw: trimResult(result) };
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { input, comparable: { verdict: `analyzer threw ${message}`, decidedBy: '', path: [] }, alternatives: [], raw: { error: message } };
  }
}

/** Kernel chains carry the iptables backend name or the nft family; the analyzer names sources like that too. */
function sourceOf(family: string): string {
  return family.startsWith('iptables') ? family : 'nft';
}

export function fromKernel(answer: ProbeAnswer): ComparableAnswer {
  const out: ComparableAnswer = {
    verdict: answer.verdict,
    route: answer.route,
    decidedBy: where(sourceOf(answer.decidedBy.family), answer.decidedBy.table, answer.decidedBy.chain, answer.decidedBy.position, answer.decidedBy.policy),
    path: answer.path.map((p) => `${where(sourceOf(p.family), p.decidedBy.table, p.decidedBy.chain, p.decidedBy.position, p.decidedBy.policy)} => ${p.verdict}`),
    wire: answer.replies.map(describeReply).join(', ') || 'nothing',
  };
  if (answer.reply !== undefined) {
    const d = answer.reply.decidedBy;
    out.reply = `${answer.reply.verdict} by ${where(sourceOf(d.family), d.table, d.chain, d.position, d.policy)}`;
    if (answer.replyError !== undefined) out.replyRejectWith = answer.replyError;
  }
  if (answer.verdict === 'reject') {
    const seen = answer.replies.map(rejectTypeOf).find((t) => t !== undefined);
    if (seen !== undefined) out.rejectWith = seen;
  }
  return out;
}

function describeReply(reply: ObservedReply): string {
  if (reply.proto === 6) return `tcp [${(reply.tcpFlags ?? []).join(',')}]`;
  if (reply.proto === 1) return `icmp ${reply.icmpType ?? '?'}/${reply.icmpCode ?? '?'}`;
  if (reply.proto === 58) return `icmpv6 ${reply.icmpType ?? '?'}/${reply.icmpCode ?? '?'}`;
  return `proto ${reply.proto}`;
}

function fromAnalyzer(result: ExplainResult): ComparableAnswer {
  // nft rules are identified by handle (what the kernel's counters are keyed by), iptables rules by position.
  const id = (ref: { source: string; position?: number; handle?: number }): number | undefined => (ref.source === 'nft' ? ref.handle ?? ref.position : ref.position);
  const out: ComparableAnswer = {
    verdict: result.verdict,
    route: result.path,
    decidedBy: where(result.decidedBy.source, result.decidedBy.table, result.decidedBy.chain, id(result.decidedBy), result.decidedBy.policy),
    path: result.chainVerdicts.map((c) => `${where(c.source, c.table, c.chain, id(c), c.policy)} => ${c.verdict}`),
  };
  if (result.rejectWith !== undefined) out.rejectWith = result.rejectWith;
  if (result.reply !== undefined) {
    const d = result.reply.decidedBy;
    out.reply = `${result.reply.verdict} by ${where(d.source, d.table, d.chain, id(d), d.policy)}`;
    if (result.reply.rejectWith !== undefined) out.replyRejectWith = result.reply.rejectWith;
  }
  return out;
}

/** Reasons the analyzer gives for the stateful matches the generator plants on purpose. */
const STATEFUL_REASON = /ipset contents are not known|fib needs the routing table|rate limit state|rate\/quota state|recent list|payload contents|random or nth|packet length/;

function alternativesOf(result: ExplainResult): ComparableAnswer[] {
  if (result.unknowns.length === 0 || !result.unknowns.every((u) => u.reasons.length > 0 && u.reasons.every((r) => STATEFUL_REASON.test(r)))) return [];
  const out: ComparableAnswer[] = [];
  for (const u of result.unknowns) {
    for (const o of [u.ifMatches, u.ifNotMatches]) {
      if (o === undefined) continue;
      const alt: ComparableAnswer = { verdict: o.verdict, decidedBy: where(o.decidedBy.source, o.decidedBy.table, o.decidedBy.chain, ruleId(o.decidedBy), o.decidedBy.policy), path: [] };
      if (o.rejectWith !== undefined) alt.rejectWith = o.rejectWith;
      out.push(alt);
    }
  }
  return out;
}

/**
 * The analyzer's answer, or (for planted stateful matches only) one of the outcomes it offers:
 * then verdict, deciding rule and reject type must match; the per-chain path is not offered.
 */
export function analyzerAgrees(kernel: ComparableAnswer, run: AnalyzerRun): boolean {
  if (sameAnswer(kernel, run.comparable)) return true;
  return run.alternatives.some((alt) => kernel.verdict === alt.verdict && kernel.decidedBy === alt.decidedBy
    && (kernel.rejectWith === undefined || kernel.rejectWith === alt.rejectWith));
}

/** nft rules are identified by handle (what the kernel's counters are keyed by), iptables rules by position. */
function ruleId(ref: { source: string; position?: number; handle?: number }): number | undefined {
  return ref.source === 'nft' ? ref.handle ?? ref.position : ref.position;
}

function where(source: string, table: string, chain: string, position: number | undefined, policy: string | undefined): string {
  return position !== undefined ? `${source}:${table} ${chain} #${position}` : `${source}:${table} ${chain} policy ${policy ?? '?'}`;
}

/** The reject type is compared only when the kernel put one on the wire. */
export function sameAnswer(kernel: ComparableAnswer, analyzer: ComparableAnswer): boolean {
  return kernel.verdict === analyzer.verdict && kernel.route === analyzer.route && kernel.decidedBy === analyzer.decidedBy && kernel.path.join('|') === analyzer.path.join('|')
    && (kernel.rejectWith === undefined || kernel.rejectWith === analyzer.rejectWith)
    && (kernel.reply === undefined || kernel.reply === analyzer.reply)
    && (kernel.replyRejectWith === undefined || kernel.replyRejectWith === analyzer.replyRejectWith);
}

function trimResult(result: ExplainResult): unknown {
  return {
    verdict: result.verdict, rejectWith: result.rejectWith, decidedBy: result.decidedBy, chainVerdicts: result.chainVerdicts,
    path: result.path, translated: result.translated, reply: result.reply === undefined ? undefined : { verdict: result.reply.verdict, decidedBy: result.reply.decidedBy, packet: result.reply.packet }, unknowns: result.unknowns, warnings: result.warnings,
    trace: result.trace.slice(0, 60),
  };
}
