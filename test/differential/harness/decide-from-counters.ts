import { chainKey, type CounterChain, type CounterRule, type CounterSnapshot } from './counter-snapshot.ts';

export type Verdict = 'accept' | 'drop' | 'reject';

export interface DecidedBy {
  /** The iptables backend name, or the nft family: tells same-named tables of two sources apart. */
  family: string;
  table: string;
  chain: string;
  position?: number;
  policy?: 'accept' | 'drop';
}

/** What one base chain on the path did with the packet. */
export interface BaseChainOutcome { family: string; table: string; chain: string; verdict: Verdict; decidedBy: DecidedBy; rule?: string }

export interface KernelAnswer {
  verdict: Verdict;
  /** The deciding REJECT rule's configured type, as the dump prints it. */
  rejectWith?: string;
  /** For accept: the last base chain that accepted; for drop/reject: the rule or policy that ended it. */
  decidedBy: DecidedBy;
  rule?: string;
  /** Every base chain the packet reached, in hook/priority order. */
  path: BaseChainOutcome[];
  /** Text of every rule whose counter rose on that path, terminal or not (LOG, CONNMARK, CT, …). */
  fired?: string[];
  /** Whether the packet was delivered locally (INPUT) or routed through FORWARD. */
  route: 'local' | 'forward';
  /**
   * False while the counters show the packet only part of the way: no DROP/REJECT yet and some base
   * chain that would see it has not counted it. The packet may still be inside the stack (softirq
   * runs asynchronously to the dump), so the caller must look again rather than take this answer.
   */
  complete: boolean;
  /**
   * True when some nft base chain's policy was inferred from its entry counter alone (no terminal
   * rule, no exit counter: a `return` or a fall-off after `goto`). That is indistinguishable from a
   * packet still in flight, so the caller must confirm the counters have settled.
   */
  needsSettle: boolean;
}

/** Hooks of the two routes an incoming packet can take (output hooks only see the firewall's own replies). */
const LOCAL_HOOKS = ['prerouting', 'input'];
const FORWARD_HOOKS = ['prerouting', 'forward', 'postrouting'];

/**
 * Which rule decided, from the counter deltas of exactly one packet. In each base chain reached, the
 * terminal rule (accept/drop/reject) whose counter rose decided, else the policy did. DROP/REJECT
 * anywhere is final; ACCEPT only ends its base chain, so an accepted packet is decided by the last one.
 */
export function decideFromCounters(before: CounterSnapshot, after: CounterSnapshot, onlyHooks?: readonly string[]): KernelAnswer {
  const previous = new Map<string, CounterChain>(before.chains.map((c) => [chainKey(c), c]));
  const delta = (chain: CounterChain, rule: CounterRule): number => {
    const old = previous.get(chainKey(chain))?.rules.find((r) => r.id === rule.id);
    return rule.packets - (old?.packets ?? 0);
  };
  const vmapElement = (chain: CounterChain, rule: CounterRule, index: number): { packets: number } | undefined =>
    previous.get(chainKey(chain))?.rules.find((r) => r.id === rule.id)?.vmap?.[index];
  const policyDelta = (chain: CounterChain): number => (chain.policyPackets ?? 0) - (previous.get(chainKey(chain))?.policyPackets ?? 0);

  // DNAT to a non-local address sends the packet through FORWARD and POSTROUTING instead of INPUT.
  // Postrouting alone proves nothing: the firewall's own replies (RST, ICMP) cross it too.
  // `onlyHooks` (output, postrouting) reads the path of the firewall's own reply instead.
  const forwarded = onlyHooks === undefined && after.chains.some((c) => c.hook === 'forward' && (policyDelta(c) > 0 || c.rules.some((r) => delta(c, r) > 0)));
  const hooks = onlyHooks ?? (forwarded ? FORWARD_HOOKS : LOCAL_HOOKS);
  const baseChains = after.chains
    .filter((c) => c.hook !== undefined && hooks.includes(c.hook))
    .sort((a, b) => hooks.indexOf(a.hook as string) - hooks.indexOf(b.hook as string) || (a.priority ?? 0) - (b.priority ?? 0));

  // Whether a base chain after the index-th one counted the packet (an accepted packet goes on to them).
  const seenLater = (index: number): boolean => baseChains.slice(index + 1).some((c) => policyDelta(c) > 0 || c.rules.some((r) => delta(c, r) > 0));

  const path: BaseChainOutcome[] = [];
  const firedTexts: string[] = [];
  let unseenObservable = 0;
  // nat POSTROUTING is the last chain a forwarded packet reaches, and may be skipped: confirm it settled.
  let needsSettle = forwarded;
  for (const base of baseChains) {
    // Nothing after a DROP/REJECT saw the packet; later counters (POSTROUTING) are REJECT's own answer.
    if (path.some((p) => p.verdict !== 'accept')) break;
    const tree = reachableChains(after, base);
    const fired: Array<{ chain: CounterChain; rule: CounterRule }> = [];
    for (const chain of tree) {
      for (const rule of chain.rules) {
        if (delta(chain, rule) <= 0) continue;
        if (rule.marker === undefined) firedTexts.push(rule.text);
        if (rule.action.kind === 'accept' || rule.action.kind === 'drop' || rule.action.kind === 'reject') fired.push({ chain, rule });
        // A verdict map decides through the element whose own counter rose (jumps are followed like jump rules).
        const taken = rule.vmap?.filter((e, i) => e.packets - (vmapElement(chain, rule, i)?.packets ?? 0) > 0) ?? [];
        for (const element of taken) {
          if (element.action.kind === 'accept' || element.action.kind === 'drop') fired.push({ chain, rule: { ...rule, action: element.action } });
        }
        if (rule.anonymousVmap !== undefined) {
          const verdict = anonymousVmapVerdict(after, chain, rule, (c, r) => delta(c, r) > 0, () => seenLater(baseChains.indexOf(base)));
          if (verdict.inferred) needsSettle = true;
          if (verdict.kind !== undefined) fired.push({ chain, rule: { ...rule, action: { kind: verdict.kind } } });
        }
      }
    }
    if (fired.length > 1) {
      throw new Error(`ambiguous counters: ${fired.length} terminal rules rose under ${chainKey(base)}: ${fired.map((f) => `${f.chain.name}#${f.rule.id}`).join(', ')}`);
    }
    const hit = fired[0];
    if (hit !== undefined) {
      const kind = hit.rule.action.kind as Verdict;
      path.push({ family: base.family, table: base.table, chain: base.name, verdict: kind, decidedBy: { family: base.family, table: hit.chain.table, chain: hit.chain.name, position: hit.rule.id }, rule: hit.rule.text });
      continue;
    }
    const viaPolicyCounter = policyDelta(base) > 0 || base.rules.some((r) => r.marker === 'exit' && delta(base, r) > 0);
    const viaEntryOnly = !viaPolicyCounter && base.rules.some((r) => r.marker === 'entry' && delta(base, r) > 0);
    if (viaEntryOnly) needsSettle = true;
    if (viaPolicyCounter || viaEntryOnly) {
      path.push({ family: base.family, table: base.table, chain: base.name, verdict: base.policy === 'drop' ? 'drop' : 'accept', decidedBy: { family: base.family, table: base.table, chain: base.name, policy: base.policy ?? 'accept' } });
    } else if (base.type !== 'nat' && (base.policyPackets !== undefined || base.rules.some((r) => r.marker === 'entry'))) {
      // nat chains are skipped by every packet but a connection's first, so their silence proves nothing.
      unseenObservable++;
    }
  }
  const stopped = path.some((p) => p.verdict !== 'accept');
  const complete = path.length > 0 && (stopped || unseenObservable === 0);
  if (path.length === 0) {
    return { verdict: 'drop', decidedBy: { family: '', table: '', chain: '' }, path, route: forwarded ? 'forward' : 'local', complete, needsSettle };
  }
  const final = path.find((p) => p.verdict !== 'accept') ?? (path[path.length - 1] as BaseChainOutcome);
  const answer: KernelAnswer = { verdict: final.verdict, decidedBy: final.decidedBy, path, route: forwarded ? 'forward' : 'local', complete, needsSettle, fired: firedTexts };
  if (final.rule !== undefined) answer.rule = final.rule;
  if (final.verdict === 'reject') {
    const chain = after.chains.find((c) => c.table === final.decidedBy.table && c.name === final.decidedBy.chain && c.family === final.family);
    const action = chain?.rules.find((r) => r.id === final.decidedBy.position)?.action;
    if (action?.kind === 'reject') answer.rejectWith = action.rejectWith;
  }
  return answer;
}

/**
 * What an anonymous verdict map did (nft 1.0.6 gives its elements no counters). The rule's counter,
 * placed before the lookup, says it was reached. Then: the harness `diff-vmap-miss` counter right after
 * the rule rises when no element matched (or a jump came back), the `diff-vmap-jump` counter opening a
 * jump target rises when that jump was taken, and otherwise an accept or drop element ended the base
 * chain. If the map holds both, the two differ in what comes next: an accepted packet reaches the later
 * input chains (render-nft adds an observer chain at the end of the hook), a dropped one none.
 * `inferred` marks a drop read from silence, which a packet still in flight also shows.
 */
function anonymousVmapVerdict(
  snapshot: CounterSnapshot, chain: CounterChain, rule: CounterRule, rose: (chain: CounterChain, rule: CounterRule) => boolean, seenLater: () => boolean,
): { kind?: 'accept' | 'drop'; inferred: boolean } {
  const index = chain.rules.indexOf(rule);
  const miss = chain.rules[index + 1];
  if (miss?.marker !== 'vmap-miss') throw new Error(`harness: anonymous vmap rule ${chain.name}#${rule.id} is not followed by its miss counter`);
  if (rose(chain, miss)) return { inferred: false };
  for (const action of rule.anonymousVmap ?? []) {
    if (action.kind !== 'jump' && action.kind !== 'goto') continue;
    const target = snapshot.chains.find((c) => c.family === chain.family && c.table === chain.table && c.name === action.chain);
    const entry = target?.rules[0];
    if (entry?.marker !== 'vmap-jump') throw new Error(`harness: anonymous vmap target ${action.chain} does not open with its jump counter`);
    if (rose(target as CounterChain, entry)) return { inferred: false };
  }
  const kinds = new Set((rule.anonymousVmap ?? []).map((a) => a.kind).filter((k): k is 'accept' | 'drop' => k === 'accept' || k === 'drop'));
  if (kinds.size === 1) return { kind: [...kinds][0] as 'accept' | 'drop', inferred: false };
  if (kinds.size === 0) throw new Error(`harness: anonymous vmap rule ${chain.name}#${rule.id} took a verdict it does not hold`);
  return seenLater() ? { kind: 'accept', inferred: false } : { kind: 'drop', inferred: true };
}

/** The base chain and every chain it can jump/goto into (same table and family). */
function reachableChains(snapshot: CounterSnapshot, base: CounterChain): CounterChain[] {
  const seen = new Map<string, CounterChain>();
  const queue = [base];
  while (queue.length > 0) {
    const chain = queue.pop() as CounterChain;
    if (seen.has(chain.name)) continue;
    seen.set(chain.name, chain);
    for (const rule of chain.rules) {
      for (const action of [rule.action, ...(rule.vmap ?? []).map((e) => e.action), ...(rule.anonymousVmap ?? [])]) {
        if (action.kind !== 'jump' && action.kind !== 'goto') continue;
        const targetName = action.chain;
        const target = snapshot.chains.find((c) => c.family === base.family && c.table === base.table && c.name === targetName);
        if (target !== undefined) queue.push(target);
      }
    }
  }
  return [...seen.values()];
}
