import type { Chain, Hook, Match, Packet, RejectWith, Rule, RuleRef, Table, Target } from './model.ts';
import { chainIndex, type CompiledRuleset, type HookEntry } from './compile-ruleset.ts';
import { describeMatchFailure, evaluateMatch, fieldValue, ipsetExpiryWarning, NO, UNKNOWN, YES, type MatchEnv, type MatchView, type Tri } from './match-packet.ts';
import { candidateRules } from './rule-index.ts';
import { icmpxReject } from './protocols.ts';
import { formatIp } from './ip-address.ts';

/** One visited rule (or policy): where it is, as a RuleRef, and what it did to the packet. */
export interface TraceEntry extends RuleRef {
  hook: Hook;
  direction: 'request' | 'reply';
  matched: boolean | 'unknown';
  /** Why it did not match (first failing field), or why it could not be judged. */
  reason?: string;
  /** What a matching rule did: `ACCEPT (ends this base chain)`, `jump X`, `mark 0x1`, … */
  effect?: string;
}

export interface Decision {
  hook: Hook;
  table: Table;
  chain: Chain;
  rule?: Rule;
  policy?: 'accept' | 'drop';
}

export type ChainResult =
  | { kind: 'accept'; by: Decision }
  | { kind: 'drop'; by: Decision }
  | { kind: 'reject'; with: RejectWith; by: Decision }
  | { kind: 'branch'; rule: Rule; by: Decision; reasons: string[] };

export interface UnknownSeen {
  by: Decision;
  reasons: string[];
}

/** Mutable state of one simulation run (one branch of the unknown-match tree). */
export interface SimRun {
  compiled: CompiledRuleset;
  env: MatchEnv;
  assumptions: Map<Rule, boolean>;
  /** Rules treated as non-matching (shadow search). */
  forceNo?: Set<Rule>;
  /** Resolve unknown matches as "no match" instead of branching (shadow search). */
  noBranch: boolean;
  trace: TraceEntry[] | null;
  useIndex: boolean;
  direction: 'request' | 'reply';
  warnings: Set<string>;
  unknownSeen: Map<Rule, UnknownSeen>;
  /** Primary address per interface, for REDIRECT. */
  primaryAddress: (iface: string | null, family: Packet['family'], dst?: bigint) => bigint | undefined;
  /** Set when REDIRECT made the packet local whatever its destination. */
  redirected: boolean;
  natBound: boolean;
  /** False when no loaded rule enables conntrack: nat chains are then bypassed. Absent = active. */
  conntrackActive?: boolean;
}

const MAX_DEPTH = 64;

interface Frame {
  chain: Chain;
  cand: Int32Array | undefined;
  k: number;
}

function rejectFor(pkt: Packet, spec: Extract<Target, { kind: 'reject' }>['with']): RejectWith {
  return typeof spec === 'string' ? spec : icmpxReject(pkt.family, spec.icmpx);
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** CONNMARK/`ct mark set` act on a real conntrack entry only: not before the conntrack hook (nor on a template), not when untracked or INVALID. */
function tracked(pkt: Packet, ctAttached: boolean): boolean {
  return ctAttached && pkt.ctState !== 'UNTRACKED' && pkt.ctState !== 'INVALID';
}

/** Applies a non-verdict effect; returns a description for the trace. */
function applyEffect(t: Target, pkt: Packet, run: SimRun, ctAttached: boolean): string | undefined {
  switch (t.kind) {
    case 'setMark': {
      if (t.ct && !tracked(pkt, ctAttached)) return 'connmark set without a connection (no effect)';
      const cur = t.ct ? pkt.ctMark : pkt.mark;
      const next = cur === null ? null : (((cur & ~t.mask) ^ t.value) >>> 0);
      if (t.ct) pkt.ctMark = next; else pkt.mark = next;
      return `${t.ct ? 'connmark' : 'mark'} set ${next === null ? '(unknown)' : hex(next)}`;
    }
    case 'connmarkSave': {
      if (!tracked(pkt, ctAttached)) return 'connmark save without a connection (no effect)';
      if (pkt.ctMark !== null && pkt.mark !== null) pkt.ctMark = ((pkt.ctMark & ~t.ctMask) ^ (pkt.mark & t.nfMask)) >>> 0;
      else pkt.ctMark = null;
      return `connmark save ${pkt.ctMark === null ? '(unknown)' : hex(pkt.ctMark)}`;
    }
    case 'connmarkRestore': {
      if (!tracked(pkt, ctAttached)) return 'connmark restore without a connection (no effect)';
      if (pkt.ctMark !== null && pkt.mark !== null) pkt.mark = ((pkt.mark & ~t.nfMask) ^ (pkt.ctMark & t.ctMask)) >>> 0;
      else pkt.mark = null;
      return `mark restored ${pkt.mark === null ? '(unknown offline)' : hex(pkt.mark)}`;
    }
    case 'notrack':
      // xt_CT/nft notrack only act before conntrack has attached an entry (raw priority), and not
      // after a CT template (`skb->_nfct` is already set).
      if (ctAttached) return 'NOTRACK after conntrack (no effect)';
      if (pkt.ctTemplate === true) return 'NOTRACK after a CT template (no effect)';
      if (pkt.ctState !== 'UNTRACKED') pkt.untrackedFrom = pkt.ctState;
      pkt.ctState = 'UNTRACKED';
      pkt.ctStatus = [];
      return 'NOTRACK (state UNTRACKED, nat skipped)';
    case 'ctTemplate':
      if (ctAttached) return `${t.name} after conntrack (no effect)`;
      if (pkt.ctTemplate === true) return `${t.name} after a CT template (no effect)`;
      if (pkt.ctState === 'UNTRACKED') {
        // xt_CT leaves an untracked packet alone; nft `ct zone set` replaces the untracked mark.
        if (!t.overridesNotrack) return `${t.name} after NOTRACK (no effect)`;
        pkt.ctState = pkt.untrackedFrom ?? 'NEW';
      }
      pkt.ctTemplate = true;
      if (t.zone !== undefined) pkt.ctZone = t.zone;
      return `${t.name} (conntrack template attached, continues)`;
    case 'nonTerminal':
      return `${t.name} (continues)`;
    case 'none':
      return 'no target (only counts)';
    case 'unknown':
      run.warnings.add(`target ${t.name} is not understood; the analyzer assumed it does not end the chain`);
      return `${t.name}: ${t.reason}; assumed to continue`;
    default:
      return undefined;
  }
}

function noteIpsetExpiry(m: Match, view: MatchView, run: SimRun): void {
  const w = ipsetExpiryWarning(m, view, run.env);
  if (w) run.warnings.add(w);
}

function evalRule(rule: Rule, view: MatchView, env: MatchEnv): { res: Tri; failing?: Match; unknown: Match[] } {
  let res: Tri = YES;
  const unknown: Match[] = [];
  for (const m of rule.matches) {
    const r = evaluateMatch(m, view, env);
    if (r === NO) return { res: NO, failing: m, unknown };
    if (r === UNKNOWN) { res = UNKNOWN; unknown.push(m); }
  }
  return { res, unknown };
}

function openFrame(run: SimRun, chain: Chain, pkt: Packet): Frame {
  let cand: Int32Array | undefined;
  if (run.useIndex) {
    const ix = chainIndex(run.compiled, chain);
    if (ix) cand = candidateRules(ix, pkt);
  }
  return { chain, cand, k: 0 };
}

function policyResult(entry: HookEntry, run: SimRun): ChainResult {
  const { table, base } = entry;
  const by: Decision = { hook: base.hook, table, chain: entry.chain, policy: base.policy };
  run.trace?.push({ hook: base.hook, direction: run.direction, source: table.source, table: table.name, chain: entry.chain.name,
    policy: base.policy, matched: true, effect: `policy ${base.policy.toUpperCase()}` });
  return base.policy === 'accept' ? { kind: 'accept', by } : { kind: 'drop', by };
}

function traceEntry(run: SimRun, hook: Hook, table: Table, chain: Chain, rule: Rule, matched: TraceEntry['matched']): TraceEntry {
  const e: TraceEntry = { hook, direction: run.direction, source: table.source, table: table.name, chain: chain.name,
    position: rule.position, rule: rule.text, matched };
  if (rule.handle !== undefined) e.handle = rule.handle;
  return e;
}

/** Walks one base chain (with its jumps) for `pkt`, mutating it (marks, NAT, notrack). */
export function runBaseChain(entry: HookEntry, pkt: Packet, run: SimRun, ctAttached: boolean): ChainResult {
  const { table, base } = entry;
  const hook = base.hook;
  const view: MatchView = { pkt, ctAttached };
  const stack: Frame[] = [];
  let frame = openFrame(run, entry.chain, pkt);

  for (;;) {
    const { chain } = frame;
    const idx = frame.cand ? (frame.k < frame.cand.length ? (frame.cand[frame.k] as number) : -1)
      : (frame.k < chain.rules.length ? frame.k : -1);
    if (idx < 0) {
      // Falling off a user chain is RETURN; off the base chain (or a goto'd chain with nothing to return to), policy.
      const up = stack.pop();
      if (!up) return policyResult(entry, run);
      frame = up;
      continue;
    }
    frame.k++;
    const rule = chain.rules[idx] as Rule;
    const evaluated = evalRule(rule, view, run.env);
    const unknown = evaluated.unknown;
    let { res, failing } = evaluated;
    if (run.forceNo?.has(rule)) { res = NO; failing = undefined; }
    if (res === UNKNOWN) {
      const reasons = unknown.map((m) => describeMatchFailure(m, view, run.env));
      if (!run.unknownSeen.has(rule)) run.unknownSeen.set(rule, { by: { hook, table, chain, rule }, reasons });
      const assumed = run.noBranch ? false : run.assumptions.get(rule);
      if (assumed === undefined) return { kind: 'branch', rule, by: { hook, table, chain, rule }, reasons };
      if (!assumed) {
        if (run.trace) {
          const e = traceEntry(run, hook, table, chain, rule, 'unknown');
          e.reason = `${reasons.join('; ')} (assumed: does not match)`;
          run.trace.push(e);
        }
        continue;
      }
      res = YES;
    }
    if (res === NO) {
      if (run.trace) {
        const e = traceEntry(run, hook, table, chain, rule, false);
        e.reason = failing ? describeMatchFailure(failing, view, run.env) : 'skipped (the rule being explained away)';
        run.trace.push(e);
      }
      if (failing?.kind === 'ipset') noteIpsetExpiry(failing, view, run);
      continue;
    }
    for (const m of rule.matches) if (m.kind === 'ipset') noteIpsetExpiry(m, view, run);
    let effects: string[] | undefined;
    if (rule.actions) {
      for (const a of rule.actions) {
        const d = applyEffect(a, pkt, run, ctAttached);
        if (d) (effects ??= []).push(d);
      }
    }
    let target = rule.target;
    if (target.kind === 'vmap') {
      const vals = target.fields.map((f) => fieldValue(pkt, f));
      let chosen: Target | undefined;
      if (vals.some((v) => v === null)) {
        run.warnings.add(`a verdict map keyed on ${target.fields.join(' . ')} could not be evaluated offline`);
        chosen = { kind: 'none' };
      } else if (vals.every((v) => v !== undefined)) {
        for (const e of target.entries) {
          if (e.element.every((r, i) => (vals[i] as bigint) >= r[0] && (vals[i] as bigint) <= r[1])) { chosen = e.verdict; break; }
        }
      }
      target = chosen ?? { kind: 'none' };
      (effects ??= []).push(chosen ? 'verdict map hit' : 'verdict map: no element matches');
    }
    let effect: string;
    let result: ChainResult | undefined;
    let next: Chain | undefined;
    const by: Decision = { hook, table, chain, rule };
    switch (target.kind) {
      case 'accept':
        effect = 'ACCEPT (ends this base chain)';
        result = { kind: 'accept', by };
        break;
      case 'drop':
        effect = 'DROP';
        result = { kind: 'drop', by };
        break;
      case 'reject': {
        const w = rejectFor(pkt, target.with);
        effect = `REJECT --reject-with ${w}`;
        result = { kind: 'reject', with: w, by };
        break;
      }
      case 'return':
        effect = 'RETURN';
        break;
      case 'jump': case 'goto':
        next = table.chains.get(target.chain);
        if (!next) run.warnings.add(`rule ${rule.position} of ${table.name} ${chain.name} jumps to missing chain ${target.chain}; treated as continue`);
        effect = `${target.kind} ${target.chain}${next ? '' : ' (chain missing)'}`;
        break;
      case 'dnat': case 'redirect': {
        if (base.type !== 'nat') { effect = `${target.kind.toUpperCase()} outside a nat chain (ignored)`; break; }
        const before = { dst: pkt.dst, dport: pkt.dport };
        if (target.kind === 'dnat') {
          if (target.addr !== undefined) pkt.dst = target.addr;
        } else {
          const addr = run.primaryAddress(pkt.inIface, pkt.family, pkt.dst);
          if (addr !== undefined) pkt.dst = addr;
          run.redirected = true;
        }
        if (target.portMin !== undefined && pkt.dport !== undefined) pkt.dport = target.portMin;
        // nf_nat_setup_info sets IPS_DST_NAT only when the tuple changes (REDIRECT to the address
        // already targeted, no port change: only DNAT_DONE), so `ct status dnat` stays false then.
        if (pkt.dst !== before.dst || pkt.dport !== before.dport) pkt.ctStatus = [...pkt.ctStatus, 'dnat'];
        run.natBound = true;
        effect = `${target.kind === 'dnat' ? 'DNAT' : 'REDIRECT'} to ${formatIp(pkt.family, pkt.dst)}${pkt.dport !== undefined ? `:${pkt.dport}` : ''}`;
        result = { kind: 'accept', by };
        break;
      }
      case 'snat':
        if (base.type !== 'nat') { effect = `${target.name} outside a nat chain (ignored)`; break; }
        // Like DNAT, the status bit needs a changed tuple. A nat INPUT SNAT rewrites the source for
        // the chains after it; MASQUERADE only runs in POSTROUTING, after every chain that could look.
        if (target.addr !== pkt.src) pkt.ctStatus = [...pkt.ctStatus, 'snat'];
        if (target.addr !== undefined && target.addr !== pkt.src) {
          pkt.snatFrom ??= pkt.src;
          pkt.src = target.addr;
        }
        run.natBound = true;
        effect = target.addr === undefined ? target.name : `${target.name} to ${formatIp(pkt.family, pkt.src)}`;
        result = { kind: 'accept', by };
        break;
      default:
        effect = applyEffect(target, pkt, run, ctAttached) ?? target.kind;
    }
    if (run.trace) {
      const e = traceEntry(run, hook, table, chain, rule, unknown.length > 0 ? 'unknown' : true);
      e.effect = (effects ? `${effects.join(', ')}; ` : '') + effect + (unknown.length > 0 ? ' (assumed to match)' : '');
      run.trace.push(e);
    }
    if (result) return result;
    if (target.kind === 'return') {
      const up = stack.pop();
      if (!up) return policyResult(entry, run);
      frame = up;
    } else if (next) {
      if (target.kind === 'jump') stack.push(frame);
      if (stack.length > MAX_DEPTH) {
        run.warnings.add(`jump depth over ${MAX_DEPTH} in ${table.name} ${chain.name}: a loop? The kernel refuses such rulesets`);
        return { kind: 'drop', by };
      }
      frame = openFrame(run, next, pkt);
    }
  }
}
