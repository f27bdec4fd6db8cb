import { diffDumps, diffLines, normalizeIptablesSave } from '../probes/ruleset-text.ts';

/** The raw `*table` … `COMMIT` blocks of an iptables-save text, by table name. */
export function rawTableBlocks(text: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const m of text.matchAll(/^\*(\S+)\s*$[\s\S]*?^COMMIT\s*$/gm)) blocks.set(m[1]!, `${m[0]}\n`);
  return blocks;
}

/**
 * Whether the running rules hold what the restore was given, for each table the fix named,
 * compared by meaning (the kernel prints `-m tcp` where a hand-written file may not).
 * A restore can return 0 yet leave something else (wrong backend, another writer), so we re-read.
 */
export function compareIntended(intended: string, running: string): { matches: boolean; differences: string[] } {
  const want = rawTableBlocks(intended);
  const have = rawTableBlocks(running);
  const differences: string[] = [];
  if (want.size === 0) return { matches: false, differences: ['the intended ruleset names no table'] };
  for (const [table, text] of want) {
    const got = have.get(table);
    if (!got) { differences.push(`table ${table} is missing from the running rules`); continue; }
    const d = diffDumps({ format: 'iptables-save', text }, { format: 'iptables-save', text: got });
    differences.push(...d.onlyA.map((l) => `missing in ${table}: ${l}`), ...d.onlyB.map((l) => `unexpected in ${table}: ${l}`));
  }
  return { matches: differences.length === 0, differences };
}

/** `-`/`+` lines between two iptables-save texts, for the audit record. */
export function rulesDiff(before: string, after: string): string[] {
  const d = diffLines(normalizeIptablesSave(before), normalizeIptablesSave(after));
  return [...d.onlyA.map((l) => `- ${l}`), ...d.onlyB.map((l) => `+ ${l}`)];
}
