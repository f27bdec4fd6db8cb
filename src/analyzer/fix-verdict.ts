import type { HostContext, Packet, Rule, Ruleset } from './model.ts';
import { compileRuleset } from './compile-ruleset.ts';
import { isLoopback } from './ip-address.ts';
import { buildEnv, primaryAddress, routeIface, toPacket, type PacketInput } from './packet-input.ts';
import type { SimRun } from './simulate-chain.ts';
import { conntrackActive, runRequest } from './simulate-path.ts';
import type { Verdict } from './explain-packet.ts';

export interface QuickOutcome {
  verdict: Verdict;
  rejectWith?: string;
}

const MAX_LEAVES = 16;

/**
 * Verdict only, for the thousands of class representatives a blast radius simulates:
 * the same path walk as explainPacket (candidate index on), without trace, shadow search or reply.
 * Unjudgeable matches are explored both ways; disagreeing outcomes give `unknown`.
 */
export function quickVerdict(ruleset: Ruleset, input: PacketInput, ctx: HostContext): QuickOutcome {
  const pkt = toPacket(input, ctx);
  const env = buildEnv(pkt, ctx);
  const compiled = compileRuleset(ruleset);
  const hooks = {
    isLocal: (p: Packet) => isLoopback(p.family, p.dst) || env.local[p.family].has(p.dst),
    routeIface: (p: Packet) => routeIface(p, ctx),
  };
  // The same conntrack rule as explainPacket: without it nat chains are never called.
  const ctActive = conntrackActive(ruleset, pkt.family);
  const stack: Map<Rule, boolean>[] = [new Map()];
  let first: QuickOutcome | undefined;
  let leaves = 0;
  while (stack.length > 0) {
    const assumptions = stack.pop() as Map<Rule, boolean>;
    const run: SimRun = {
      compiled, env, assumptions, noBranch: false, trace: null, useIndex: true, direction: 'request', warnings: new Set(),
      unknownSeen: new Map(), redirected: false, natBound: false, conntrackActive: ctActive, primaryAddress: (iface, family, dst) => primaryAddress(ctx, iface, family, dst),
    };
    const r = runRequest(pkt, run, hooks);
    if (r.kind === 'branch') {
      if (leaves + stack.length + 2 > MAX_LEAVES) return { verdict: 'unknown' };
      stack.push(new Map(assumptions).set(r.rule, true));
      stack.push(new Map(assumptions).set(r.rule, false));
      continue;
    }
    leaves++;
    const o: QuickOutcome = r.outcome.rejectWith ? { verdict: r.outcome.verdict, rejectWith: r.outcome.rejectWith } : { verdict: r.outcome.verdict };
    if (!first) first = o;
    else if (first.verdict !== o.verdict || first.rejectWith !== o.rejectWith) return { verdict: 'unknown' };
  }
  return first ?? { verdict: 'unknown' };
}
