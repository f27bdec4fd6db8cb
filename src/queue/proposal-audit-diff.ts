import { rawTableBlocks, rulesDiff } from '../fix/intended-rules.ts';
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
  const tables = [...rawTableBlocks(fix.rulesetAfter).keys()];
  let best: string[] | undefined;
  for (const dump of candidates) {
    const blocks = rawTableBlocks(dump.text);
    const diff = rulesDiff(tables.map((t) => blocks.get(t) ?? '').join(''), fix.rulesetAfter);
    if (best === undefined || diff.length < best.length) best = diff;
  }
  return best ?? fix.commands.map((c) => `$ ${c}`);
}

