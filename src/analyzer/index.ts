/** Public API of the pure firewall analyzer. Other modules import from here only. */
export type {
  BaseChainInfo, Chain, ChainType, CtState, Family, FieldKey, Hook, HostContext, HostInterface, HostRoute, Match, Packet,
  RejectSpec, RejectWith, Rule, RuleRef, Ruleset, Table, TableFamily, Target,
} from './model.ts';
export { parseRuleset, type ParseRulesetOptions } from './parse-ruleset.ts';
export { mergeRulesets } from './merge-rulesets.ts';
export { parseIpsetSave } from './ipset/parse-ipset-save.ts';
export type { IpsetContents, IpsetSet } from './ipset/ipset-model.ts';
export {
  explainPacket, explainPackets,
  type ChainVerdictRef, type DecidedBy, type ExplainOptions, type ExplainResult, type OutcomeSummary, type ReplyResult,
  type UnknownEntry, type Verdict,
} from './explain-packet.ts';
export type { PacketInput } from './packet-input.ts';
export { toPacket } from './packet-input.ts';
export type { TraceEntry } from './simulate-chain.ts';
export type { Symptom } from './symptom.ts';
export { formatIp, parseIp, parseNet } from './ip-address.ts';
export { protoName, protoNumber } from './protocols.ts';
