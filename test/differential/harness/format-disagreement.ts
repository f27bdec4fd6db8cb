import type { ComparableAnswer } from './compare-with-analyzer.ts';
import type { CaseOutcome } from './run-differential-case.ts';

/** Everything needed to reproduce and judge one disagreement, as text for the failure message. */
export function formatDisagreement(outcome: CaseOutcome, label: string): string {
  const show = (a: ComparableAnswer): string => `${a.verdict}${a.rejectWith ? ` (${a.rejectWith})` : ''}${a.route === 'forward' ? ' [routed through FORWARD]' : ''} by ${a.decidedBy}${a.wire ? `; on the wire: ${a.wire}` : ''}${a.reply ? `\n      reply (OUTPUT): ${a.reply}${a.replyRejectWith ? ` (${a.replyRejectWith})` : ''}` : ''}\n      path: ${a.path.join(' ; ') || '(none)'}`;
  return [
    `── ${label} [${outcome.backend}]`,
    `   packet:   ${JSON.stringify(outcome.analyzer.input)}`,
    `   kernel:   ${show(outcome.kernel)}`,
    `   analyzer: ${show(outcome.analyzer.comparable)}`,
    `   analyzer detail: ${JSON.stringify(outcome.analyzer.raw).slice(0, 1500)}`,
    '   ruleset as loaded:',
    ...outcome.text.trimEnd().split('\n').map((l) => `     ${l}`),
  ].join('\n');
}
