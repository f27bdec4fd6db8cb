import {
  explainPacket, mergeRulesets, parseIpsetSave, parseRuleset, type ExplainResult, type HostContext, type PacketInput, type Ruleset,
} from '../analyzer/index.ts';
import { synthesizeReplyFix } from '../analyzer/fix-reply.ts';
import { synthesizeFixes } from '../analyzer/fix-synthesis.ts';
import { detectManager, managerFixOptions, zoneFromChain } from '../fix/manager-fix.ts';
import type { RuleRef, FixOption } from '../triage/report-types.ts';
import type { FlowSpec, FlowVerdict, RulesetDump } from '../triage/evidence-types.ts';
import type { SynthesizeFixes } from '../triage/assemble-report.ts';
import type { ExplainFlow } from './ports.ts';

/**
 * The analyzer behind the probes' ExplainFlow and the triage engine's SynthesizeFixes ports.
 * nft JSON also lists iptables-nft's tables (with xt matches it cannot show); those tables are
 * taken from iptables-nft-save instead, so each table is simulated once.
 */
export function rulesetFromDumps(dumps: RulesetDump[]): Ruleset {
  const parsed = dumps.map((d) => parseRuleset(d.text, { format: d.format, source: d.source, ...(d.family ? { family: d.family } : {}) }));
  const fromIptables = new Set(parsed.flatMap((r) => r.tables.filter((t) => t.source !== 'nft').map((t) => `${t.family}/${t.name}`)));
  const kept = parsed.map((r) => ({ ...r, tables: r.tables.filter((t) => t.source !== 'nft' || !fromIptables.has(`${t.family}/${t.name}`)) }));
  return mergeRulesets(...kept);
}

function packetOf(flow: FlowSpec): PacketInput {
  return {
    family: flow.family, proto: flow.proto, src: flow.src, dst: flow.dst,
    ...(flow.sport !== undefined ? { sport: flow.sport } : {}), ...(flow.dport !== undefined ? { dport: flow.dport } : {}),
    ...(flow.inIface ? { inIface: flow.inIface } : {}), ...(flow.state ? { state: flow.state } : {}),
  };
}

function ruleRef(d: { source: string; table: string; chain: string; position?: number; rule?: string; policy?: string }): RuleRef {
  return {
    source: d.source, table: d.table, chain: d.chain,
    ...(d.position !== undefined ? { position: d.position } : {}), ...(d.rule ? { rule: d.rule } : {}), ...(d.policy ? { policy: d.policy } : {}),
  };
}

export function toFlowVerdict(r: ExplainResult): FlowVerdict {
  return {
    verdict: r.verdict,
    ...(r.rejectWith ? { rejectWith: r.rejectWith } : {}),
    decidedBy: ruleRef(r.decidedBy),
    shadowedAccepts: r.shadowed.map(ruleRef),
    unknowns: r.unknowns.map((u) => `${u.table}/${u.chain}${u.position !== undefined ? ` rule ${u.position}` : ''}: ${u.reasons.join('; ')}${u.changesVerdict ? ' (changes the verdict)' : ''}`),
    warnings: r.warnings,
    ...(r.symptom.errno ? { symptom: `${r.symptom.errno} (${r.symptom.message})` } : { symptom: r.symptom.message }),
    trace: r.trace.slice(0, 60).map((t) => `${t.direction} ${t.hook} ${t.source} ${t.table}/${t.chain}${t.position !== undefined ? ` #${t.position}` : ' policy'}: ${t.matched === true ? 'match' : t.matched === false ? 'no match' : 'unknown'}${t.reason ? ` (${t.reason})` : ''}`),
  };
}

export const explainFlowWithAnalyzer: ExplainFlow = ({ dumps, flow, host }) => {
  const ctx: HostContext = { localAddresses: host.localAddresses, interfaces: host.interfaces };
  if (host.ipsetSave !== undefined) ctx.ipsets = parseIpsetSave(host.ipsetSave);
  const result = explainPacket(rulesetFromDumps(dumps), packetOf(flow), ctx);
  const forward = toFlowVerdict(result);
  const r = result.reply;
  if (!r) return forward;
  const reply: FlowVerdict = {
    verdict: r.verdict, ...(r.rejectWith ? { rejectWith: r.rejectWith } : {}), decidedBy: ruleRef(r.decidedBy), shadowedAccepts: [],
    unknowns: r.unknowns.map((u) => `${u.table}/${u.chain}${u.position !== undefined ? ` rule ${u.position}` : ''}: ${u.reasons.join('; ')}`),
    warnings: [], trace: [],
  };
  return { ...forward, reply };
};

/** Fix candidates for the table that decided; `host` goes into each FixOption. */
export const synthesizeFixesWithAnalyzer: SynthesizeFixes = ({ dumps, flow, host, decidedBy, targetHost, blocked, backend }) => {
  const manager = backend ? detectManager(backend) : undefined;
  if (manager) {
    // The manager owns the rules: a raw restore would be wiped at its next reload. Its allow
    // rules open inbound ports only, so a blocked reply gets no automatic fix.
    if (blocked === 'reply' || flow.dport === undefined) {
      throw new Error(`${manager} owns the rules and its allow rules open inbound ports only; allow the reply in ${manager}'s own configuration`);
    }
    const zone = manager === 'firewalld' ? zoneFromChain(decidedBy.chain) : undefined;
    return managerFixOptions({ manager, port: flow.dport, client: flow.src, targetHost, ...(zone ? { zone } : {}) });
  }
  const dump = dumps.find((d) => d.source === decidedBy.source);
  if (!dump) return [];
  // Source labels are the tools' own names (iptables-legacy, ip6tables-nft…), so commands hit the same backend;
  // a host with only the unsuffixed tools gets commands for `iptables` itself.
  const binary = dump.format === 'iptables-save' ? dump.tool ?? dump.source : undefined;
  if (blocked === 'reply') {
    const reply = synthesizeReplyFix({
      rulesetText: dump.text, format: dump.format, ...(dump.family ? { family: dump.family } : {}),
      packet: packetOf(flow), ctx: { localAddresses: host.localAddresses, interfaces: host.interfaces }, ...(binary ? { iptablesBinary: binary } : {}),
    });
    return reply.candidates.map((c): FixOption => ({
      id: c.id, title: c.title, host: targetHost, commands: c.commands, rulesetAfter: c.rulesetAfter,
      effect: `the reply is accepted (decided by ${c.effect.decidedBy.table}/${c.effect.decidedBy.chain}${c.effect.decidedBy.position !== undefined ? ` rule ${c.effect.decidedBy.position}` : ''})`,
      blastRadius: c.blastRadius.summary, kind: 'firewall',
    }));
  }
  const result = synthesizeFixes({
    rulesetText: dump.text, format: dump.format, ...(dump.family ? { family: dump.family } : {}),
    packet: packetOf(flow), ctx: { localAddresses: host.localAddresses, interfaces: host.interfaces }, accept: {},
    ...(binary ? { iptablesBinary: binary } : {}),
  });
  return result.candidates.map((c): FixOption => ({
    id: c.id, title: c.title, host: targetHost, commands: c.commands, rulesetAfter: c.rulesetAfter,
    effect: `${c.effect.verdict} (decided by ${c.effect.decidedBy.table}/${c.effect.decidedBy.chain}${c.effect.decidedBy.position !== undefined ? ` rule ${c.effect.decidedBy.position}` : ''})${c.uncertain ? `; uncertain: ${c.uncertainty.join('; ')}` : ''}`,
    blastRadius: c.blastRadius.summary, kind: 'firewall',
  }));
};
