import type { CounterChain, CounterRule, CounterSnapshot, RuleAction } from './counter-snapshot.ts';
import { ENTRY_COMMENT, EXIT_COMMENT, VMAP_JUMP_COMMENT, VMAP_MISS_COMMENT } from './render-nft.ts';

type Json = Record<string, unknown>;

const MARKERS: Record<string, CounterRule['marker']> = {
  [ENTRY_COMMENT]: 'entry', [EXIT_COMMENT]: 'exit', [VMAP_MISS_COMMENT]: 'vmap-miss', [VMAP_JUMP_COMMENT]: 'vmap-jump',
};

/** Reads `nft -j list ruleset` into a counter snapshot (rules without a counter count as 0). */
export function parseNftCounters(jsonText: string): CounterSnapshot {
  const doc = JSON.parse(jsonText) as { nftables?: Json[] };
  const chains: CounterChain[] = [];
  const byKey = new Map<string, CounterChain>();
  // Verdict maps with per-element counters (`map … { …; counter; }`), by family, table and name.
  const vmaps = new Map<string, Array<{ packets: number; action: RuleAction }>>();
  for (const item of doc.nftables ?? []) {
    const map = item.map as Json | undefined;
    if (map === undefined || map.map !== 'verdict' || !Array.isArray(map.elem)) continue;
    vmaps.set(`${String(map.family)} ${String(map.table)} ${String(map.name)}`, (map.elem as Json[][]).map(([key, verdict]) => {
      const elem = (key as Json | undefined)?.elem as Json | undefined;
      return { packets: counterPackets(elem === undefined ? [] : [elem]), action: actionOf([verdict as Json]) };
    }));
  }
  for (const item of doc.nftables ?? []) {
    const chain = item.chain as Json | undefined;
    if (chain !== undefined) {
      const entry: CounterChain = { family: String(chain.family), table: String(chain.table), name: String(chain.name), rules: [] };
      if (typeof chain.hook === 'string') {
        entry.hook = chain.hook;
        entry.priority = Number(chain.prio);
        entry.policy = chain.policy === 'drop' ? 'drop' : 'accept';
        entry.type = chain.type === 'nat' ? 'nat' : chain.type === 'route' ? 'route' : 'filter';
      }
      chains.push(entry);
      byKey.set(`${entry.family} ${entry.table} ${entry.name}`, entry);
      continue;
    }
    const rule = item.rule as Json | undefined;
    if (rule === undefined) continue;
    const owner = byKey.get(`${String(rule.family)} ${String(rule.table)} ${String(rule.chain)}`);
    if (owner === undefined) throw new Error(`nft rule for unknown chain ${String(rule.chain)}`);
    const expr = (rule.expr as Json[] | undefined) ?? [];
    const bareCounter = expr.length === 1 && 'counter' in (expr[0] as Json);
    const marker = !bareCounter ? undefined : MARKERS[String(rule.comment)];
    const vmapData = expr.map((st) => (st.vmap as Json | undefined)?.data).find((d) => typeof d === 'string');
    const vmap = typeof vmapData === 'string' ? vmaps.get(`${String(rule.family)} ${String(rule.table)} ${vmapData.replace(/^@/, '')}`) : undefined;
    const inline = expr.map((st) => (st.vmap as Json | undefined)?.data).find((d): d is Json => typeof d === 'object' && d !== null && Array.isArray((d as Json).set));
    const anonymousVmap = inline === undefined ? undefined : (inline.set as Json[][]).map(([, verdict]) => actionOf([verdict as Json]));
    owner.rules.push({ id: Number(rule.handle), packets: counterPackets(expr), action: actionOf(expr), ...(marker ? { marker } : {}), ...(vmap ? { vmap } : {}), ...(anonymousVmap ? { anonymousVmap } : {}), text: JSON.stringify(rule.expr) });
  }
  return { chains };
}

function counterPackets(expr: Json[]): number {
  for (const statement of expr) {
    const counter = statement.counter as Json | undefined;
    if (counter !== undefined) return Number(counter.packets ?? 0);
  }
  return 0;
}

function actionOf(expr: Json[]): RuleAction {
  for (const statement of expr) {
    if ('accept' in statement || 'dnat' in statement || 'redirect' in statement || 'snat' in statement || 'masquerade' in statement) return { kind: 'accept' };
    if ('drop' in statement) return { kind: 'drop' };
    if ('return' in statement) return { kind: 'return' };
    if ('reject' in statement) {
      const reject = statement.reject as Json | null;
      return { kind: 'reject', rejectWith: reject === null ? 'default' : `${String(reject.type)} ${String(reject.expr ?? '')}`.trim() };
    }
    const jump = statement.jump as Json | undefined;
    if (jump !== undefined) return { kind: 'jump', chain: String(jump.target) };
    const goto = statement.goto as Json | undefined;
    if (goto !== undefined) return { kind: 'goto', chain: String(goto.target) };
  }
  return { kind: 'none' };
}
