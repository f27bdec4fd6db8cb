import { rulesDiff } from '../fix/intended-rules.ts';
import type { FirewallData } from '../triage/evidence-types.ts';
import type { FixOption, TriageReport } from '../triage/report-types.ts';

/**
 * The `-`/`+` rule lines a proposal would change, for its audit record. A fix carries the whole
 * table it restores but not which dump it came from; with several backends dumped, the dump it
 * was computed from is the one it differs from least.
 */
export function proposalAuditDiff(report: TriageReport, fix: Pick<FixOption, 'rulesetAfter' | 'commands'>): string[] {
  if (!/^\*\S+\s*$/m.test(fix.rulesetAfter)) return fix.commands.map((c) => `$ ${c}`);
  const fw = report.evidence.find((e) => e.probe === 'firewall')?.data as FirewallData | undefined;
  const candidates = (fw?.dumps ?? []).filter((d) => d.format === 'iptables-save' && d.text.trim() !== '');
  const tables = new Set([...fix.rulesetAfter.matchAll(/^\*(\S+)\s*$/gm)].map((m) => m[1]!));
  let best: string[] | undefined;
  for (const dump of candidates) {
    const diff = rulesDiff(onlyTables(dump.text, tables), fix.rulesetAfter);
    if (best === undefined || diff.length < best.length) best = diff;
  }
  return best ?? fix.commands.map((c) => `$ ${c}`);
}

/** The `*table` … `COMMIT` blocks of an iptables-save text for the named tables only. */
function onlyTables(text: string, tables: Set<string>): string {
  return [...text.matchAll(/^\*(\S+)\s*$[\s\S]*?^COMMIT\s*$/gm)].filter((m) => tables.has(m[1]!)).map((m) => `${m[0]}\n`).join('');
}
