import type { BaseChainInfo, Chain, Family, Hook, Ruleset, Table } from './model.ts';
import { buildChainIndex, type ChainIndex } from './rule-index.ts';

export interface HookEntry {
  table: Table;
  chain: Chain;
  base: BaseChainInfo;
  /** Position among the hook's entries: nat chains all run at the nat core's slot. */
  effectivePriority: number;
}

export interface CompiledRuleset {
  ruleset: Ruleset;
  hooks: Map<string, HookEntry[]>;
  /** Built lazily, only when a caller asks for indexed walks. */
  index: Map<Chain, ChainIndex | undefined>;
}

/** nf_nat registers one hook per direction at these priorities and runs nat chains inside it. */
const natSlot: Record<Hook, number> = { prerouting: -100, output: -100, input: 100, postrouting: 100, forward: 0 };

const cache = new WeakMap<Ruleset, CompiledRuleset>();

export function hookKey(family: Family, hook: Hook): string {
  return `${family}:${hook}`;
}

export function compileRuleset(ruleset: Ruleset): CompiledRuleset {
  const hit = cache.get(ruleset);
  if (hit) return hit;
  const hooks = new Map<string, HookEntry[]>();
  for (const table of ruleset.tables) {
    const families: Family[] = table.family === 'inet' ? ['ipv4', 'ipv6'] : [table.family];
    for (const chain of table.chains.values()) {
      const base = chain.base;
      if (!base) continue;
      const effectivePriority = base.type === 'nat' ? natSlot[base.hook] : base.priority;
      for (const f of families) {
        const key = hookKey(f, base.hook);
        const list = hooks.get(key) ?? [];
        list.push({ table, chain, base, effectivePriority });
        hooks.set(key, list);
      }
    }
  }
  // Stable sort: equal priorities run in an undefined order in the kernel; keep source order.
  for (const list of hooks.values()) {
    list.sort((a, b) => a.effectivePriority - b.effectivePriority || a.base.priority - b.base.priority);
  }
  const compiled: CompiledRuleset = { ruleset, hooks, index: new Map() };
  cache.set(ruleset, compiled);
  return compiled;
}

export function chainIndex(compiled: CompiledRuleset, chain: Chain): ChainIndex | undefined {
  if (compiled.index.has(chain)) return compiled.index.get(chain);
  const ix = buildChainIndex(chain);
  compiled.index.set(chain, ix);
  return ix;
}
