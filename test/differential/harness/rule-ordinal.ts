import type { KernelAnswer } from './decide-from-counters.ts';
import type { LoadedRuleset } from './kernel-oracle.ts';
import { parseNftCounters } from './parse-nft-counters.ts';

/**
 * 1-based index of the deciding rule within its chain. For iptables that is the position itself;
 * nft reports handles, which differ from load to load, so fixtures are written as indexes.
 */
export function ruleOrdinal(loaded: LoadedRuleset, answer: KernelAnswer): number | undefined {
  const position = answer.decidedBy.position;
  if (position === undefined || loaded.backend !== 'nft') return position;
  const chain = parseNftCounters(loaded.readback).chains.find((c) => c.table === answer.decidedBy.table && c.name === answer.decidedBy.chain);
  const index = chain?.rules.findIndex((r) => r.id === position) ?? -1;
  return index < 0 ? undefined : index + 1;
}
