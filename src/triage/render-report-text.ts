import type { RuleRef, TriageReport } from './report-types.ts';

function ruleLine(r: RuleRef): string {
  const where = r.position === undefined ? `${r.table}/${r.chain} policy ${r.policy ?? ''}`.trim() : `${r.table}/${r.chain} rule ${r.position}`;
  return `${where} [${r.source}]${r.rule ? `: ${r.rule}` : ''}`;
}

/** The CLI's human output: the decider first, then the evidence that supports it. */
export function renderReportText(report: TriageReport): string {
  const out: string[] = [];
  const from = report.from.kind === 'worker' ? 'this machine' : report.from.name ?? report.from.address ?? '?';
  out.push(`${report.target.host} (${report.target.address}) tcp/${report.port} from ${from}: ${report.cause}`);
  if (report.decidedBy) out.push(`Decided by: ${ruleLine(report.decidedBy)}`);
  if (report.predictedSymptom !== undefined || report.observedSymptom !== undefined) {
    const agree = report.symptomAgrees === undefined ? '' : report.symptomAgrees ? ' (agree)' : ' (DISAGREE)';
    out.push(`Predicted: ${report.predictedSymptom ?? 'n/a'} | observed: ${report.observedSymptom ?? 'n/a'}${agree}`);
  }
  out.push('', report.summary, '', 'Evidence:');
  for (const e of report.evidence) {
    out.push(`  ${e.ok ? 'ok  ' : 'FAIL'} ${e.probe.padEnd(13)} ${e.summary}`);
    for (const raw of e.raw.slice(0, 4)) out.push(`         ${raw}`);
    if (e.raw.length > 4) out.push(`         … ${e.raw.length - 4} more line(s)`);
  }
  if (report.warnings.length > 0) {
    out.push('', 'Warnings:');
    for (const w of report.warnings) out.push(`  ${w.code}: ${w.message}`);
  }
  if (report.fixes.length > 0) {
    out.push('', 'Fixes:');
    report.fixes.forEach((f, i) => {
      out.push(`  ${i + 1}. ${f.title} [${f.id}${f.kind === 'service-hint' ? ', service-side' : ''}]`);
      for (const c of f.commands) out.push(`       ${c}`);
      if (f.effect) out.push(`       effect: ${f.effect}`);
      for (const b of f.blastRadius.slice(0, 3)) out.push(`       blast radius: ${b}`);
    });
  }
  out.push('', `(${report.durationMs} ms, started ${report.startedAt})`);
  return `${out.join('\n')}\n`;
}
