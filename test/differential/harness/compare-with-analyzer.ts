import { explainPacket, mergeRulesets, parseRuleset, type ExplainResult, type PacketInput } from '../../../src/analyzer/index.ts';
import type { LoadedRuleset, ProbeAnswer } from './kernel-oracle.ts';
import { rejectTypeOf } from './reject-type-of.ts';
import type { ObservedReply } from './start-reply-capture.ts';
import { FW_INTERFACES, LOCAL_ADDRESSES } from './lab-topology.ts';
import type { ProbePacket } from './start-packet-sender.ts';
import type { CtState } from './ruleset-model.ts';

/** The firewall namespace as the analyzer must be told about it. */
export const LAB_HOST_CONTEXT = {
  localAddresses: [...LOCAL_ADDRESSES],
  interfaces: FW_INTERFACES.map((i) => ({ name: i.name, addresses: i.addresses.map((a) => `${a}/32`) })),
};

/** A comparable answer: where each base chain on the path decided, and the overall verdict. */
export interface ComparableAnswer {
  verdict: string;
  decidedBy: string;
  path: string[];
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
      : { format: 'iptables-save', source: part.backend, family: 'ipv4' }));
    const ruleset = rulesets.length === 1 ? rulesets[0] : mergeRulesets(...rulesets);
    if (ruleset === undefined) throw new Error('nothing loaded');
    const result = explainPacket(ruleset, input, LAB_HOST_CONTEXT);
    return { input, comparable: fromAnalyzer(result), raw: trimResult(result) };
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { input, comparable: { verdict: `analyzer threw ${message}`, decidedBy: '', path: [] }, raw: { error: message } };
  }
}

/** Kernel chains carry the iptables backend name or the nft family; the analyzer names sources like that too. */
function sourceOf(family: string): string {
  return family.startsWith('iptables') ? family : 'nft';
}

export function fromKernel(answer: ProbeAnswer): ComparableAnswer {
  const out: ComparableAnswer = {
    verdict: answer.verdict,
    decidedBy: where(sourceOf(answer.decidedBy.family), answer.decidedBy.table, answer.decidedBy.chain, answer.decidedBy.position, answer.decidedBy.policy),
    path: answer.path.map((p) => `${where(sourceOf(p.family), p.decidedBy.table, p.decidedBy.chain, p.decidedBy.position, p.decidedBy.policy)} => ${p.verdict}`),
    wire: answer.replies.map(describeReply).join(', ') || 'nothing',
  };
  if (answer.verdict === 'reject') {
    const seen = answer.replies.map(rejectTypeOf).find((t) => t !== undefined);
    if (seen !== undefined) out.rejectWith = seen;
  }
  return out;
}

function describeReply(reply: ObservedReply): string {
  if (reply.proto === 6) return `tcp [${(reply.tcpFlags ?? []).join(',')}]`;
  if (reply.proto === 1) return `icmp ${reply.icmpType ?? '?'}/${reply.icmpCode ?? '?'}`;
  return `proto ${reply.proto}`;
}

function fromAnalyzer(result: ExplainResult): ComparableAnswer {
  // nft rules are identified by handle (what the kernel's counters are keyed by), iptables rules by position.
  const id = (ref: { source: string; position?: number; handle?: number }): number | undefined => (ref.source === 'nft' ? ref.handle ?? ref.position : ref.position);
  const out: ComparableAnswer = {
    verdict: result.verdict,
    decidedBy: where(result.decidedBy.source, result.decidedBy.table, result.decidedBy.chain, id(result.decidedBy), result.decidedBy.policy),
    path: result.chainVerdicts.map((c) => `${where(c.source, c.table, c.chain, id(c), c.policy)} => ${c.verdict}`),
  };
  if (result.rejectWith !== undefined) out.rejectWith = result.rejectWith;
  return out;
}

function where(source: string, table: string, chain: string, position: number | undefined, policy: string | undefined): string {
  return position !== undefined ? `${source}:${table} ${chain} #${position}` : `${source}:${table} ${chain} policy ${policy ?? '?'}`;
}

/** The reject type is compared only when the kernel put one on the wire. */
export function sameAnswer(kernel: ComparableAnswer, analyzer: ComparableAnswer): boolean {
  return kernel.verdict === analyzer.verdict && kernel.decidedBy === analyzer.decidedBy && kernel.path.join('|') === analyzer.path.join('|')
    && (kernel.rejectWith === undefined || kernel.rejectWith === analyzer.rejectWith);
}

function trimResult(result: ExplainResult): unknown {
  return {
    verdict: result.verdict, rejectWith: result.rejectWith, decidedBy: result.decidedBy, chainVerdicts: result.chainVerdicts,
    unknowns: result.unknowns, warnings: result.warnings,
    trace: result.trace.slice(0, 60),
  };
}
