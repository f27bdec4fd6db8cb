import type { GenRuleset } from './ruleset-model.ts';

/** `ipset restore` input for the ruleset's sets (list:set last: its members must exist first). */
export function renderIpsetRestore(ruleset: GenRuleset): string | undefined {
  const sets = ruleset.ipsets ?? [];
  if (sets.length === 0) return undefined;
  const ordered = [...sets.filter((s) => s.type !== 'list:set'), ...sets.filter((s) => s.type === 'list:set')];
  const lines: string[] = [];
  for (const set of ordered) {
    lines.push(`create ${set.name} ${set.type}${set.createOptions === '' ? '' : ` ${set.createOptions}`}`);
    for (const element of set.elements) lines.push(`add ${set.name} ${element}`);
  }
  return `${lines.join('\n')}\n`;
}
