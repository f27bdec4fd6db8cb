import type { Ruleset } from './model.ts';

/**
 * Several sources filter the same packet at once (legacy x_tables, iptables-nft, native nft).
 * Merging keeps every table; the simulator orders base chains by priority across all of them.
 */
export function mergeRulesets(...sets: Ruleset[]): Ruleset {
  const sources: string[] = [];
  for (const s of sets) for (const src of s.sources) if (!sources.includes(src)) sources.push(src);
  return {
    sources,
    tables: sets.flatMap((s) => s.tables),
    warnings: [...new Set(sets.flatMap((s) => s.warnings))],
  };
}
