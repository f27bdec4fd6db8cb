import type { Family, Hook, Match, Packet, RejectWith, Rule, Ruleset, Target } from './model.ts';
import { hookKey, type HookEntry } from './compile-ruleset.ts';
import { runBaseChain, type Decision, type SimRun } from './simulate-chain.ts';

/** One base chain's verdict on the way, for multi-source reports and differential tests. */
export interface ChainVerdict {
  decision: Decision;
  verdict: 'accept' | 'drop' | 'reject';
}

export interface PathOutcome {
  verdict: 'accept' | 'drop' | 'reject';
  rejectWith?: RejectWith;
  decider: Decision;
  path: 'local' | 'forward';
  packet: Packet;
  chainVerdicts: ChainVerdict[];
  /** Where the final decision was taken, to re-run it for the shadow search. */
  decisive?: { entry: HookEntry; packet: Packet; ctAttached: boolean };
}

export type RunOutcome = { kind: 'done'; outcome: PathOutcome } | { kind: 'branch'; rule: Rule; by: Decision; reasons: string[] };

export interface PathHooks {
  isLocal: (pkt: Packet) => boolean;
  routeIface: (pkt: Packet) => string | null;
  /** Why routing drops the packet as a martian (fib_validate_source), if it does. */
  martian?: (pkt: Packet) => string | undefined;
}

const CONNTRACK_PRIORITY = -200;

function clonePacket(p: Packet): Packet {
  return { ...p, ctStatus: [...p.ctStatus] };
}

type HookResult =
  | { kind: 'accept' }
  | { kind: 'final'; verdict: 'drop' | 'reject'; rejectWith?: RejectWith; by: Decision }
  | { kind: 'branch'; rule: Rule; by: Decision; reasons: string[] };

function runHook(hook: Hook, pkt: Packet, run: SimRun, verdicts: ChainVerdict[],
  decisive: { current?: PathOutcome['decisive'] }): HookResult {
  const entries = run.compiled.hooks.get(hookKey(pkt.family, hook)) ?? [];
  run.natBound = false;
  for (const entry of entries) {
    // nat chains see only a connection's first packet, and only until one of them binds.
    // Without conntrack in the namespace there is no connection to bind, and nat chains are bypassed.
    if (entry.base.type === 'nat' && (pkt.ctState !== 'NEW' || run.natBound || run.conntrackActive === false)) continue;
    const ctAttached = !((hook === 'prerouting' || hook === 'output') && entry.base.priority < CONNTRACK_PRIORITY);
    const snapshot = clonePacket(pkt);
    const r = runBaseChain(entry, pkt, run, ctAttached);
    if (r.kind === 'branch') return r;
    decisive.current = { entry, packet: snapshot, ctAttached };
    if (r.kind === 'accept') { verdicts.push({ decision: r.by, verdict: 'accept' }); continue; }
    verdicts.push({ decision: r.by, verdict: r.kind });
    return r.kind === 'reject' ? { kind: 'final', verdict: 'reject', rejectWith: r.with, by: r.by } : { kind: 'final', verdict: 'drop', by: r.by };
  }
  return { kind: 'accept' };
}

/** An accepted packet is decided by the last base chain that accepted it (every one had to). */
function acceptDecider(verdicts: ChainVerdict[]): Decision | undefined {
  return verdicts[verdicts.length - 1]?.decision;
}

function walk(hooks: Hook[], pkt: Packet, run: SimRun, path: 'local' | 'forward', verdicts: ChainVerdict[],
  decisive: { current?: PathOutcome['decisive'] }): RunOutcome | undefined {
  for (const hook of hooks) {
    const r = runHook(hook, pkt, run, verdicts, decisive);
    if (r.kind === 'branch') return r;
    if (r.kind === 'final') {
      const outcome: PathOutcome = { verdict: r.verdict, decider: r.by, path, packet: pkt, chainVerdicts: verdicts };
      if (r.rejectWith) outcome.rejectWith = r.rejectWith;
      if (decisive.current) outcome.decisive = decisive.current;
      return { kind: 'done', outcome };
    }
  }
  return undefined;
}

function noChains(pkt: Packet, hook: Hook, path: 'local' | 'forward', verdicts: ChainVerdict[]): RunOutcome {
  // No base chain on the path at all: the packet passes untouched.
  const decision = acceptDecider(verdicts);
  if (decision) return { kind: 'done', outcome: { verdict: 'accept', decider: decision, path, packet: pkt, chainVerdicts: verdicts } };
  return { kind: 'done', outcome: { verdict: 'accept', decider: { hook, table: { source: 'none', family: pkt.family, name: '(none)', chains: new Map() },
    chain: { name: '(no chains)', rules: [] }, policy: 'accept' }, path, packet: pkt, chainVerdicts: verdicts } };
}

/** The incoming packet: PREROUTING, routing, then INPUT (local) or FORWARD + POSTROUTING. */
export function runRequest(input: Packet, run: SimRun, ph: PathHooks): RunOutcome {
  const pkt = clonePacket(input);
  const verdicts: ChainVerdict[] = [];
  const decisive: { current?: PathOutcome['decisive'] } = {};
  run.redirected = false;
  const pre = walk(['prerouting'], pkt, run, 'local', verdicts, decisive);
  if (pre) return pre;
  const martian = ph.martian?.(pkt);
  if (martian !== undefined) {
    // Routing runs after PREROUTING and drops martians silently, before any INPUT/FORWARD chain.
    const table = { source: 'kernel', family: pkt.family, name: 'routing', chains: new Map() };
    const decision: Decision = { hook: 'prerouting', table, chain: { name: martian, rules: [] }, policy: 'drop' };
    return { kind: 'done', outcome: { verdict: 'drop', decider: decision, path: 'local', packet: pkt, chainVerdicts: verdicts } };
  }
  const local = run.redirected || ph.isLocal(pkt);
  if (local) {
    pkt.outIface = '';
    const r = walk(['input'], pkt, run, 'local', verdicts, decisive);
    if (r) return r;
    const out = noChains(pkt, 'input', 'local', verdicts);
    if (out.kind === 'done' && decisive.current) out.outcome.decisive = decisive.current;
    return out;
  }
  pkt.outIface = ph.routeIface(pkt);
  const r = walk(['forward', 'postrouting'], pkt, run, 'forward', verdicts, decisive);
  if (r) {
    if (r.kind === 'done') r.outcome.path = 'forward';
    return r;
  }
  return noChains(pkt, 'forward', 'forward', verdicts);
}

/** The server's answer: OUTPUT then POSTROUTING, conntrack state ESTABLISHED. */
export function runReply(input: Packet, run: SimRun): RunOutcome {
  const pkt = clonePacket(input);
  const verdicts: ChainVerdict[] = [];
  const decisive: { current?: PathOutcome['decisive'] } = {};
  const r = walk(['output', 'postrouting'], pkt, run, 'local', verdicts, decisive);
  if (r) return r;
  return noChains(pkt, 'output', 'local', verdicts);
}

/** Rule text that makes the kernel enable conntrack (xt/nft `checkentry`/`init` call nf_ct_netns_get). */
const CONNTRACK_TEXT = /-m (?:state|conntrack|connmark|connlimit|connbytes|helper|cluster|connlabel)\b|-j (?:CT|NOTRACK|CONNMARK|DNAT|SNAT|MASQUERADE|REDIRECT|NETMAP)\b|\bct (?:state|status|mark|direction|helper|zone|label|original|reply|count|expiration|l3proto|protocol|id)\b|\b(?:dnat|snat|masquerade|redirect)\b/;

function matchNeedsConntrack(m: Match): boolean {
  if (m.kind === 'ctState' || m.kind === 'ctStatus' || m.kind === 'ctDir') return true;
  if (m.kind === 'mark') return m.ct;
  return m.kind === 'values' && m.fields.includes('ct.mark');
}

function targetNeedsConntrack(t: Target): boolean {
  if (t.kind === 'setMark') return t.ct;
  return ['dnat', 'redirect', 'snat', 'notrack', 'ctTemplate', 'connmarkSave', 'connmarkRestore'].includes(t.kind);
}

/**
 * Whether conntrack runs for `family` at all. The kernel enables it per namespace only when some
 * loaded rule needs it (a state/ct match, a NAT or CT target, …); until then packets carry no
 * connection and nat chains are never called, even a nat base chain that exists. Measured by
 * test/differential (FINDINGS.md, "nat chains need conntrack").
 */
export function conntrackActive(ruleset: Ruleset, family: Family): boolean {
  let perFamily = conntrackCache.get(ruleset);
  if (perFamily === undefined) conntrackCache.set(ruleset, perFamily = new Map());
  let active = perFamily.get(family);
  if (active === undefined) perFamily.set(family, active = scanForConntrack(ruleset, family));
  return active;
}

/** Rulesets are not mutated after parsing; batch explains must not rescan every rule per packet. */
const conntrackCache = new WeakMap<Ruleset, Map<Family, boolean>>();

function scanForConntrack(ruleset: Ruleset, family: Family): boolean {
  for (const table of ruleset.tables) {
    if (table.family !== family && table.family !== 'inet') continue;
    for (const chain of table.chains.values()) {
      for (const rule of chain.rules) {
        if (rule.matches.some(matchNeedsConntrack) || targetNeedsConntrack(rule.target) || (rule.actions ?? []).some(targetNeedsConntrack)) return true;
        if (CONNTRACK_TEXT.test(rule.text)) return true;
      }
    }
  }
  return false;
}
