import { usageError } from '../errors.ts';
import type { BigRange, Chain, Family, HostContext, Rule, Ruleset, Table } from './model.ts';
import { parseRuleset } from './parse-ruleset.ts';
import { explainPacket, type DecidedBy, type ExplainResult, type Verdict } from './explain-packet.ts';
import { toPacket, type PacketInput } from './packet-input.ts';
import { allOnes, formatIp, parseNet, prefixMask } from './ip-address.ts';
import { blastRadius, type BlastRadius } from './blast-radius.ts';
import { hullOfBoxes, intersectBoxes, ruleBox, type TrafficBox } from './fix-traffic-classes.ts';
import type { EditedTable, FixEdit, NarrowAccept, TableEditor } from './fix-edit-types.ts';
import { createIptablesEditor } from './fix-iptables-editor.ts';
import { createNftEditor } from './fix-nft-editor.ts';

export interface FixRequest {
  rulesetText: string;
  format: 'iptables-save' | 'nft-json';
  /** iptables-save text: ipv4 or ipv6 (guessed from the text when absent). */
  family?: Family;
  packet: PacketInput;
  ctx: HostContext;
  /** The wish: accept this flow, from this subnet when given (else the packet's source alone). */
  accept: { subnet?: string };
  /** Command name in `commands` (default iptables / ip6tables by family). */
  iptablesBinary?: string;
}

export type FixCandidateId = 'insert-narrow-accept' | 'move-accept-above-blocker' | 'move-blocker-below-accept';

export interface FixEffect {
  verdict: Verdict;
  decidedBy: DecidedBy;
  warnings: string[];
}

export interface FixCandidate {
  id: FixCandidateId;
  title: string;
  /** Step-by-step equivalent, with positions valid after the earlier commands of the same list. */
  commands: string[];
  /** Complete text of the changed table(s), for one atomic load (see `rulesetAfterFormat`). */
  rulesetAfter: string;
  /** `iptables-restore`: iptables-save text (COMMIT included); `nft-json`: a batch for `nft -j -f`. */
  rulesetAfterFormat: 'iptables-restore' | 'nft-json';
  /** The whole ruleset after the change in the input format (what the effect was simulated on). */
  fullRulesetAfter: string;
  table: string;
  chain: string;
  /** The requested flow re-simulated on the changed ruleset. */
  effect: FixEffect;
  blastRadius: BlastRadius;
  /** True when unjudgeable matches (limit, recent, sets…) make the before or after verdict uncertain. */
  uncertain: boolean;
  uncertainty: string[];
  /** Another candidate that produces the identical ruleset. */
  sameResultAs?: FixCandidateId;
}

export interface ManagerFix {
  name: 'firewalld' | 'ufw';
  /** The same wish in the manager's own terms (runtime; the apply step adds timeouts/persistence). */
  command: string;
}

export interface FixSynthesis {
  before: FixEffect;
  /** Set when firewalld or ufw owns the rules: raw edits would be overwritten at its next reload. */
  manager?: ManagerFix;
  /** Narrowest first. Empty when the flow is already accepted or nothing found works. */
  candidates: FixCandidate[];
  /** Why candidates are missing or were discarded. */
  notes: string[];
}

interface Frame {
  chain: string;
  position: number;
}

const order: FixCandidateId[] = ['insert-narrow-accept', 'move-accept-above-blocker', 'move-blocker-below-accept'];

function effectOf(r: ExplainResult): FixEffect {
  return { verdict: r.verdict, decidedBy: r.decidedBy, warnings: r.warnings };
}

function uncertaintyOf(r: ExplainResult, label: string): string[] {
  return r.unknowns.map((u) => `${label}: ${u.table} ${u.chain} rule ${u.position ?? '?'} cannot be judged offline (${u.reasons.join('; ')})${u.changesVerdict ? ' and it decides the verdict' : ''}`);
}

/** The decider to fix: the blocking outcome of an unknown verdict, else the decider itself. */
function blockingDecider(r: ExplainResult): DecidedBy | undefined {
  if (r.verdict === 'drop' || r.verdict === 'reject') return r.decidedBy;
  if (r.verdict !== 'unknown') return undefined;
  for (const u of r.unknowns) {
    for (const o of [u.ifNotMatches, u.ifMatches]) if (o && o.verdict !== 'accept') return o.decidedBy;
  }
  return undefined;
}

export function findTable(rs: Ruleset, d: DecidedBy, family: Family): Table | undefined {
  const cands = rs.tables.filter((t) => t.source === d.source && t.name === d.table && t.chains.has(d.chain));
  return cands.find((t) => t.family === family) ?? cands.find((t) => t.family === 'inet') ?? cands[0];
}

/** Index (1-based order) of the rule whose reported position/handle is `pos`. */
function indexOf(chain: Chain, pos: number): number {
  const i = chain.rules.findIndex((r) => r.position === pos);
  return i < 0 ? pos : i + 1;
}

/** Rebuilds the call path to the decider from the trace (frames pop when a chain is re-entered). */
function locate(r: ExplainResult, d: DecidedBy, table: Table): Frame[] {
  const stack: Frame[] = [];
  for (const e of r.trace) {
    if (e.direction !== 'request' || e.source !== d.source || e.table !== d.table || (d.hook !== undefined && e.hook !== d.hook)) continue;
    const chain = table.chains.get(e.chain);
    if (!chain) continue;
    const pos = e.position === undefined ? chain.rules.length + 1 : indexOf(chain, e.position);
    const at = stack.map((f) => f.chain).lastIndexOf(e.chain);
    if (at >= 0) { stack.length = at + 1; (stack[at] as Frame).position = pos; } else stack.push({ chain: e.chain, position: pos });
    const isDecider = e.chain === d.chain && (d.policy !== undefined ? e.policy !== undefined : e.position === d.position && e.matched !== false);
    if (isDecider) return stack;
  }
  // No trace (should not happen): assume the decider sits directly in its chain.
  const chain = table.chains.get(d.chain);
  return [{ chain: d.chain, position: chain && d.position !== undefined ? indexOf(chain, d.position) : (chain?.rules.length ?? 0) + 1 }];
}

function reaches(table: Table, from: string, target: string, seen = new Set<string>()): boolean {
  if (from === target) return true;
  if (seen.has(from)) return false;
  seen.add(from);
  for (const r of table.chains.get(from)?.rules ?? []) {
    const t = r.target;
    if ((t.kind === 'jump' || t.kind === 'goto') && reaches(table, t.chain, target, seen)) return true;
  }
  return false;
}

/** Where the blocker's and the shadowed ACCEPT's paths part: chain C, blocker side p < accept side q. */
function divergence(table: Table, path: Frame[], shadow: DecidedBy): { chain: string; p: number; q: number } | undefined {
  const sChain = table.chains.get(shadow.chain);
  if (!sChain || shadow.position === undefined) return undefined;
  const sIdx = indexOf(sChain, shadow.position);
  for (let level = path.length - 1; level >= 0; level--) {
    const f = path[level] as Frame;
    if (f.chain === shadow.chain && sIdx > f.position) return { chain: f.chain, p: f.position, q: sIdx };
    const chain = table.chains.get(f.chain);
    if (!chain) continue;
    for (let q = f.position + 1; q <= chain.rules.length; q++) {
      const t = (chain.rules[q - 1] as Rule).target;
      if ((t.kind === 'jump' || t.kind === 'goto') && reaches(table, t.chain, shadow.chain)) return { chain: f.chain, p: f.position, q };
    }
  }
  return undefined;
}

function narrowSource(pktSrc: bigint, family: Family, subnet: string | undefined): string {
  if (subnet === undefined) return `${formatIp(family, pktSrc)}/${family === 'ipv4' ? 32 : 128}`;
  const net = parseNet(subnet);
  if (!net || net.family !== family) throw usageError(`subnet "${subnet}" is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} network like 192.168.30.0/24`);
  const len = [...Array((family === 'ipv4' ? 32 : 128) + 1).keys()].find((l) => prefixMask(family, l) === net.mask);
  if (len === undefined) throw usageError(`subnet "${subnet}" needs a prefix length (a contiguous mask)`);
  if ((pktSrc & net.mask) !== net.addr) throw usageError(`subnet ${subnet} does not contain the client ${formatIp(family, pktSrc)}`);
  return `${formatIp(family, net.addr)}/${len}`;
}

function ruleWords(rule: Rule | undefined, chain: string, index: number): string {
  const t = rule?.target;
  const what = !t ? 'rule' : t.kind === 'accept' ? 'ACCEPT rule' : t.kind === 'reject' ? 'REJECT rule' : t.kind === 'drop' ? 'DROP rule'
    : t.kind === 'jump' || t.kind === 'goto' ? `${t.kind} to ${t.chain}` : 'rule';
  return `the ${what} (${chain} #${index}${rule?.handle !== undefined ? `, handle ${rule.handle}` : ''})`;
}

interface Draft {
  id: FixCandidateId;
  title: string;
  chain: string;
  edits: FixEdit[];
  region: (before: Ruleset, after: Ruleset) => TrafficBox;
}

function chainRules(rs: Ruleset, table: Table, chain: string): Rule[] {
  const t = rs.tables.find((x) => x.source === table.source && x.name === table.name && x.family === table.family);
  return t?.chains.get(chain)?.rules ?? [];
}

/** Packets a move can affect: those the moved rule and some rule it passes could both match. */
function moveRegion(moved: Rule | undefined, passed: Rule[], family: Family): TrafficBox {
  if (!moved) return {};
  const mb = ruleBox(moved, family);
  return hullOfBoxes(passed.map((x) => intersectBoxes(mb, ruleBox(x, family))));
}

/**
 * Candidate edits that make `packet` accepted, each re-simulated, with its blast radius; narrowest first.
 */
export function synthesizeFixes(input: FixRequest): FixSynthesis {
  const parseOpts = { format: input.format, ...(input.family ? { family: input.family } : {}) };
  const rs = parseRuleset(input.rulesetText, parseOpts);
  const pkt = toPacket(input.packet, input.ctx);
  const family = pkt.family;
  const before = explainPacket(rs, input.packet, input.ctx);
  const notes: string[] = [];
  const result: FixSynthesis = { before: effectOf(before), candidates: [], notes };
  if (before.verdict === 'accept') {
    notes.push('the flow is already accepted; nothing to fix');
    return result;
  }
  const d = blockingDecider(before);
  if (!d) {
    notes.push('no blocking rule was found to fix (the verdict depends on rules that cannot be judged offline)');
    return result;
  }
  const table = findTable(rs, d, family);
  if (!table) {
    notes.push(`the deciding table ${d.table} was not found in the ruleset`);
    return result;
  }
  if (before.path === 'forward') notes.push('the packet is forwarded, not delivered locally; fixes edit the forwarding path');
  const manager = managerOf(rs);
  if (manager) {
    result.manager = managerFix(manager, family, pkt.proto, input.packet.proto, narrowSource(pkt.src, family, input.accept.subnet), pkt.dport);
    notes.push(`${manager} manages this firewall and rewrites raw rules on reload; prefer: ${result.manager.command}`);
  }
  // Chains from the base chain down to the decider, with the (1-based) rule index taken in each.
  const path = locate(before, d, table);
  const deciderIndex = d.policy === undefined ? (path[path.length - 1] as Frame).position : undefined;

  // Past DNAT the deciding chain sees the translated port, so that is the one the rule must name.
  const translatedPort = typeof before.translated?.dport === 'number' ? before.translated.dport : undefined;
  const dport = translatedPort ?? pkt.dport;
  const narrow: NarrowAccept = { family, srcCidr: narrowSource(pkt.src, family, input.accept.subnet), proto: pkt.proto, state: pkt.ctState,
    ...(dport !== undefined ? { dport } : {}), ...(pkt.icmpType !== undefined ? { icmpType: pkt.icmpType } : {}) };
  const drafts: Draft[] = [];
  const srcNet = parseNet(narrow.srcCidr) as { addr: bigint; mask: bigint };
  const requestedSources: BigRange = [srcNet.addr, srcNet.addr | (~srcNet.mask & allOnes(family))];
  const who = input.accept.subnet === undefined ? formatIp(family, pkt.src) : narrow.srcCidr;
  const flow = `${dport !== undefined ? `${dport}/` : ''}${input.packet.proto}`;
  const narrowRegion = (_b: Ruleset, after: Ruleset, chain: string, index: number): TrafficBox => {
    const r = chainRules(after, table, chain)[index - 1];
    return r ? ruleBox(r, family) : {};
  };
  if (deciderIndex !== undefined) {
    const at = deciderIndex;
    drafts.push({ id: 'insert-narrow-accept', chain: d.chain, edits: [{ op: 'insert', chain: d.chain, position: at, rule: { narrow } }],
      title: `Insert an ACCEPT for ${flow} from ${who} just before ${ruleWords(table.chains.get(d.chain)?.rules[at - 1], d.chain, at)}`,
      region: (b, a) => narrowRegion(b, a, d.chain, at) });
  } else {
    const len = table.chains.get(d.chain)?.rules.length ?? 0;
    drafts.push({ id: 'insert-narrow-accept', chain: d.chain, edits: [{ op: 'append', chain: d.chain, rule: { narrow } }],
      title: `Add an ACCEPT for ${flow} from ${who} at the end of ${d.chain} (its policy ${String(d.policy).toUpperCase()} decides now)`,
      region: (b, a) => narrowRegion(b, a, d.chain, len + 1) });
  }
  const seen = new Set<string>();
  for (const s of before.shadowed) {
    const div = divergence(table, path, s);
    if (!div || seen.has(`${div.chain}:${div.q}`)) continue;
    seen.add(`${div.chain}:${div.q}`);
    const rules = table.chains.get(div.chain)?.rules ?? [];
    const accept = rules[div.q - 1];
    const blocker = rules[div.p - 1];
    const acceptWords = ruleWords(accept, div.chain, div.q);
    const blockerWords = ruleWords(blocker, div.chain, div.p);
    const between = rules.slice(div.p - 1, div.q - 1);
    drafts.push({ id: 'move-accept-above-blocker', chain: div.chain,
      edits: [{ op: 'delete', chain: div.chain, position: div.q }, { op: 'insert', chain: div.chain, position: div.p, rule: { existing: div.q } }],
      title: `Move ${acceptWords} above ${blockerWords}`, region: () => moveRegion(accept, between, family) });
    drafts.push({ id: 'move-blocker-below-accept', chain: div.chain,
      edits: [{ op: 'delete', chain: div.chain, position: div.p }, { op: 'insert', chain: div.chain, position: div.q, rule: { existing: div.p } }],
      title: `Move ${blockerWords} below ${acceptWords}`, region: () => moveRegion(blocker, rules.slice(div.p, div.q), family) });
    break;
  }
  if (before.shadowed.length === 0 && deciderIndex !== undefined) notes.push('no later rule would accept this flow, so there is nothing to move; only an inserted ACCEPT helps');

  const uncertaintyBefore = uncertaintyOf(before, 'before');
  const beforeCache = new Map<string, { verdict: Verdict; rejectWith?: string }>();
  for (const draft of drafts) {
    let edited: EditedTable;
    try {
      edited = editorFor(input, table, draft.chain).apply(draft.edits);
    } catch (err) {
      notes.push(`${draft.id}: ${(err as Error).message}`);
      continue;
    }
    const afterRs = parseRuleset(edited.fullText, { ...parseOpts, source: table.source, ...(input.format === 'iptables-save' ? { family } : {}) });
    const after = explainPacket(afterRs, input.packet, input.ctx);
    if (after.verdict === 'unknown' && before.verdict === 'unknown') {
      notes.push(`${draft.id} was discarded: the verdict stays uncertain (${after.unknowns.map((u) => u.reasons.join('; ')).join('; ')})`);
      continue;
    }
    if (after.verdict !== 'accept' && after.verdict !== 'unknown') {
      notes.push(`${draft.id} was discarded: after it the flow is still ${after.verdict === 'drop' ? 'dropped' : 'rejected'} by ${after.decidedBy.table} ${after.decidedBy.chain} ${after.decidedBy.position ?? `policy ${String(after.decidedBy.policy)}`}`);
      continue;
    }
    const uncertainty = [...uncertaintyBefore, ...uncertaintyOf(after, 'after')];
    if (after.verdict === 'unknown') uncertainty.push('after the change the verdict still depends on rules that cannot be judged offline');
    // Another route to the same ruleset has the same blast radius by definition.
    const twin = result.candidates.find((c) => c.fullRulesetAfter === edited.fullText);
    const blast = twin ? twin.blastRadius
      : blastRadius(rs, afterRs, input.ctx, { packet: input.packet, region: draft.region(rs, afterRs), requestedSources, beforeCache });
    result.candidates.push({
      id: draft.id, title: draft.title, commands: edited.commands, rulesetAfter: edited.applyText, rulesetAfterFormat: edited.applyFormat,
      fullRulesetAfter: edited.fullText, table: table.name, chain: draft.chain, effect: effectOf(after), blastRadius: blast,
      uncertain: uncertainty.length > 0 || !blast.complete, uncertainty,
    });
  }
  result.candidates.sort((a, b) => a.blastRadius.weight - b.blastRadius.weight || order.indexOf(a.id) - order.indexOf(b.id));
  result.candidates.forEach((c, i) => {
    const twin = result.candidates.slice(0, i).find((o) => o.rulesetAfter === c.rulesetAfter);
    if (twin) c.sameResultAs = twin.id;
  });
  return result;
}

function nftFamilyWord(t: Table): string {
  return t.family === 'ipv4' ? 'ip' : t.family === 'ipv6' ? 'ip6' : 'inet';
}

export function editorFor(input: Pick<FixRequest, 'format' | 'rulesetText' | 'iptablesBinary'>, table: Table, chain: string): TableEditor {
  if (input.format === 'nft-json') return createNftEditor(input.rulesetText, { family: nftFamilyWord(table), table: table.name, chain });
  const binary = input.iptablesBinary ?? (table.family === 'ipv6' ? 'ip6tables' : 'iptables');
  return createIptablesEditor(input.rulesetText, table.name, binary);
}

function managerOf(rs: Ruleset): ManagerFix['name'] | undefined {
  for (const t of rs.tables) {
    if (t.name === 'firewalld') return 'firewalld';
    for (const c of t.chains.keys()) {
      if (c.startsWith('ufw-')) return 'ufw';
      if (c === 'INPUT_ZONES' || c.startsWith('IN_public')) return 'firewalld';
    }
  }
  return undefined;
}

function managerFix(name: ManagerFix['name'], family: Family, proto: number, protoText: string | number, srcCidr: string, dport: number | undefined): ManagerFix {
  const p = typeof protoText === 'string' ? protoText.toLowerCase() : String(proto);
  if (name === 'ufw') {
    return { name, command: `ufw insert 1 allow proto ${p} from ${srcCidr}${dport !== undefined ? ` to any port ${dport}` : ''}` };
  }
  const what = dport !== undefined ? `port port="${dport}" protocol="${p}"` : `protocol value="${p}"`;
  return { name, command: `firewall-cmd --add-rich-rule='rule family="${family}" source address="${srcCidr}" ${what} accept'` };
}
