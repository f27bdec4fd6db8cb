import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { EditedTable, FixEdit, FixRuleRef, NarrowAccept, TableEditor } from './fix-edit-types.ts';
import { renderNftStatements } from './nftables/render-nft.ts';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, hasPorts, protoName } from './protocols.ts';

/**
 * Edits `nft -j list ruleset` JSON. The apply text is an `nft -j -f` batch that flushes the one
 * chain and re-adds its rules in the new order: the kernel runs a batch as one transaction, and
 * copying each rule's JSON verbatim avoids any lossy JSON → nft-syntax rendering.
 */

type Obj = Record<string, unknown>;

export interface NftChainKey {
  /** nft family word: ip, ip6, inet. */
  family: string;
  table: string;
  chain: string;
}

function fail(message: string): WhyBlockedError {
  return new WhyBlockedError(ErrorCode.RulesetParse, message);
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function ruleOf(entry: unknown): Obj | undefined {
  return isObj(entry) && isObj(entry.rule) ? entry.rule : undefined;
}

function inChain(r: Obj, k: NftChainKey): boolean {
  return r.family === k.family && r.table === k.table && r.chain === k.chain;
}

/** nft JSON statements of the narrow ACCEPT. */
export function narrowAcceptExpr(n: NarrowAccept): unknown[] {
  const l3 = n.family === 'ipv4' ? 'ip' : 'ip6';
  const full = n.family === 'ipv4' ? 32 : 128;
  const addrMatch = (cidr: string, field: 'saddr' | 'daddr'): unknown => {
    const [addr, lenText] = cidr.split('/');
    const len = lenText === undefined ? full : Number(lenText);
    return { match: { op: '==', left: { payload: { protocol: l3, field } }, right: len === full ? addr : { prefix: { addr, len } } } };
  };
  const expr: unknown[] = [addrMatch(n.srcCidr, 'saddr'), ...(n.dstCidr !== undefined ? [addrMatch(n.dstCidr, 'daddr')] : [])];
  const name = protoName(n.proto);
  if (hasPorts(n.proto) && (n.dport !== undefined || n.sport !== undefined)) {
    if (n.sport !== undefined) expr.push({ match: { op: '==', left: { payload: { protocol: name, field: 'sport' } }, right: n.sport } });
    if (n.dport !== undefined) expr.push({ match: { op: '==', left: { payload: { protocol: name, field: 'dport' } }, right: n.dport } });
  } else if ((n.proto === IPPROTO_ICMP || n.proto === IPPROTO_ICMPV6) && n.icmpType !== undefined) {
    const echo = n.icmpType === 8 || n.icmpType === 128;
    expr.push({ match: { op: '==', left: { payload: { protocol: n.proto === IPPROTO_ICMP ? 'icmp' : 'icmpv6', field: 'type' } },
      right: echo ? 'echo-request' : n.icmpType } });
  } else {
    expr.push({ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: n.proto } });
  }
  expr.push({ match: { op: 'in', left: { ct: { key: 'state' } }, right: n.state.toLowerCase() } });
  expr.push({ accept: null });
  return expr;
}

/** Parses `nft -j list ruleset` output into its entry list. */
export function parseNftEntries(text: string): unknown[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw fail(`the nft ruleset is not JSON (${(err as Error).message}); pass \`nft -j list ruleset\` output`);
  }
  if (!isObj(doc) || !Array.isArray(doc.nftables)) throw fail('the nft ruleset has no "nftables" array; pass `nft -j list ruleset` output');
  return doc.nftables;
}

export function createNftEditor(text: string, key: NftChainKey): TableEditor {
  const entries = parseNftEntries(text);
  const originalRules = entries.map(ruleOf).filter((r): r is Obj => r !== undefined && inChain(r, key));
  if (!entries.some((e) => isObj(e) && isObj(e.chain) && e.chain.family === key.family && e.chain.table === key.table && e.chain.name === key.chain)) {
    throw fail(`chain ${key.family} ${key.table} ${key.chain} is not in the nft ruleset`);
  }
  let maxHandle = 0;
  for (const e of entries) {
    const r = ruleOf(e);
    if (r && typeof r.handle === 'number' && r.handle > maxHandle) maxHandle = r.handle;
  }
  const where = `${key.family} ${key.table} ${key.chain}`;

  return {
    apply(edits: readonly FixEdit[]): EditedTable {
      const live: Obj[] = [...originalRules];
      let nextHandle = maxHandle + 1;
      const commands: string[] = [];
      const make = (ref: FixRuleRef): Obj => {
        if ('existing' in ref) {
          const r = originalRules[ref.existing - 1];
          if (!r) throw fail(`${where} has no rule ${ref.existing}`);
          return { ...r, handle: nextHandle++ };
        }
        return { family: key.family, table: key.table, chain: key.chain, handle: nextHandle++, expr: narrowAcceptExpr(ref.narrow) };
      };
      const text = (r: Obj): string => renderNftStatements(Array.isArray(r.expr) ? r.expr : []);
      for (const e of edits) {
        if (e.chain !== key.chain) throw fail(`an nft fix edits one chain at a time (${key.chain}, not ${e.chain})`);
        if (e.op === 'delete') {
          const r = live[e.position - 1];
          if (!r) throw fail(`cannot delete rule ${e.position} of ${where}: it has ${live.length} rules`);
          commands.push(`nft delete rule ${where} handle ${String(r.handle)}`);
          live.splice(e.position - 1, 1);
          continue;
        }
        const rule = make(e.rule);
        const at = e.op === 'append' ? live.length + 1 : e.position;
        if (at < 1 || at > live.length + 1) throw fail(`cannot insert at ${at} in ${where}: it has ${live.length} rules`);
        const before = live[at - 1];
        commands.push(before ? `nft insert rule ${where} position ${String(before.handle)} ${text(rule)}` : `nft add rule ${where} ${text(rule)}`);
        live.splice(at - 1, 0, rule);
      }
      // The listing with the chain's rules replaced in place, for re-simulation.
      const out: unknown[] = [];
      let emitted = false;
      for (const e of entries) {
        const r = ruleOf(e);
        if (r && inChain(r, key)) {
          if (!emitted) { for (const x of live) out.push({ rule: x }); emitted = true; }
          continue;
        }
        out.push(e);
        if (!emitted && isObj(e) && isObj(e.chain) && e.chain.family === key.family && e.chain.table === key.table && e.chain.name === key.chain
          && originalRules.length === 0) {
          for (const x of live) out.push({ rule: x });
          emitted = true;
        }
      }
      const batch: unknown[] = [{ flush: { chain: { family: key.family, table: key.table, name: key.chain } } }];
      for (const r of live) {
        const add: Obj = { family: key.family, table: key.table, chain: key.chain, expr: zeroCounters(r.expr) };
        if (typeof r.comment === 'string') add.comment = r.comment;
        batch.push({ add: { rule: add } });
      }
      return {
        fullText: `${JSON.stringify({ nftables: out }, null, 1)}\n`,
        applyText: `${JSON.stringify({ nftables: batch }, null, 1)}\n`,
        applyFormat: 'nft-json',
        commands,
      };
    },
  };
}

/** Counter statements carry the old counts in a listing; a reloaded rule starts from zero. */
function zeroCounters(expr: unknown): unknown {
  if (!Array.isArray(expr)) return expr;
  return expr.map((st) => (isObj(st) && isObj(st.counter) ? { counter: { packets: 0, bytes: 0 } } : st));
}
