import type { EvidenceItem, FixOption, ManagedFix, TriageReport } from '../../triage/report-types.ts';
import type { ProposalStatus } from '../../queue/proposal-store.ts';
import type { ChangeProgress, TriageDecision } from '../../queue/triage-state-store.ts';
import { actionIds } from '../action-ids.ts';
import {
  button, codeBlock, confirmDialog, context, escapeMrkdwn, fitBlocks, formatDurationMs, section, slackDate, slackLimits, truncate,
  type Block, type ButtonElement, type SlackMessage,
} from './block-kit.ts';

/** What the message needs to know about each fix's proposal. */
export interface ProposalView {
  fixId: string;
  proposalId: string;
  status: ProposalStatus;
  approvers: string[];
  requiredApprovals: number;
  expiresAtMs?: number;
}

export interface FindingsMessageInput {
  report: TriageReport;
  triageId: string;
  requester: string;
  proposals: ProposalView[];
  decision?: TriageDecision;
  change?: ChangeProgress;
  /** False for copies (e.g. an ephemeral answer to a repeated request): no buttons. */
  interactive: boolean;
  /** A line under the headline, e.g. "(from a check 12 s ago)". */
  note?: string;
}

const rawLinesInline = 6;
const maxFixes = 5;

function headline(report: TriageReport): string {
  const icon = report.cause === 'reachable' ? '✅' : report.cause === 'unknown' ? '❓' : '🚫';
  return `${icon} *${escapeMrkdwn(truncate(report.summary, 1200))}*`;
}

function targetLine(report: TriageReport, requester: string): string {
  const from = report.from.kind === 'worker' ? 'from the worker' : `from ${escapeMrkdwn(report.from.name ?? report.from.address ?? '?')}`;
  return `${escapeMrkdwn(report.target.host)} (${escapeMrkdwn(report.target.address)}) · ${report.port}/${report.protocol} · ${from} · ${formatDurationMs(report.durationMs)} · asked by <@${requester}>`;
}

function decidingRule(report: TriageReport): Block | undefined {
  const rule = report.decidedBy;
  if (!rule) return undefined;
  const where = `${escapeMrkdwn(rule.table)} / ${escapeMrkdwn(rule.chain)}${rule.position === undefined ? '' : ` rule ${rule.position}`} (${escapeMrkdwn(rule.source)})`;
  const text = rule.rule ?? (rule.policy ? `chain policy ${rule.policy}` : '(no rule text)');
  return section(`*Deciding rule*: ${where}\n${codeBlock([text], slackLimits.sectionText - 300)}`);
}

function symptoms(report: TriageReport): Block | undefined {
  if (report.predictedSymptom === undefined && report.observedSymptom === undefined) return undefined;
  const agree = report.symptomAgrees === undefined ? '' : report.symptomAgrees ? '\n✅ prediction and observation agree' : '\n⚠️ *prediction and observation disagree*: treat the verdict with care';
  return section(`*Predicted:* ${escapeMrkdwn(report.predictedSymptom ?? 'n/a')}\n*Observed:* ${escapeMrkdwn(report.observedSymptom ?? 'n/a')}${agree}`);
}

function evidenceBlock(item: EvidenceItem): Block {
  const icon = item.ok ? '✅' : '❌';
  const head = `${icon} *${item.probe}* (${formatDurationMs(item.durationMs)}): ${escapeMrkdwn(truncate(item.summary, 500))}`;
  const err = item.error ? `\n_${escapeMrkdwn(truncate(item.error.message, 300))}_` : '';
  if (item.raw.length === 0) return section(head + err);
  const shown = item.raw.slice(0, rawLinesInline);
  const more = item.raw.length > shown.length ? `\n_+${item.raw.length - shown.length} more lines in the thread_` : '';
  const room = slackLimits.sectionText - head.length - err.length - more.length - 2;
  return section(`${head}${err}\n${codeBlock(shown, Math.max(100, room))}${more}`);
}

function fixBlock(fix: FixOption, index: number): Block {
  const blast = fix.blastRadius.length > 0 ? `\n*Blast radius:* ${truncate(fix.blastRadius.map((b) => escapeMrkdwn(b)).join('; '), 800)}` : '';
  const head = `*Fix ${index + 1}: ${escapeMrkdwn(fix.title)}* on *${escapeMrkdwn(fix.host)}*\n${escapeMrkdwn(fix.effect)}`;
  const cmds = fix.commands.length > 0 ? `\n${codeBlock(fix.commands, Math.max(200, slackLimits.sectionText - head.length - blast.length - 2))}` : '';
  return section(truncate(`${head}${cmds}`, slackLimits.sectionText - blast.length) + blast);
}

/** The manager's terms, short enough that Slack's 300-character dialog keeps all of it. */
function managerDialogText(fix: FixOption, m: ManagedFix): string {
  const what = `allow TCP ${m.port} from ${m.source ?? 'any source'}`;
  const head = m.kind === 'firewalld'
    ? `On *${escapeMrkdwn(fix.host)}*, firewalld ${m.zone ? `zone ${escapeMrkdwn(m.zone)}` : '(default zone)'}: ${what}. A timed rich rule first (removes itself unless verified), then --permanent and a reload.`
    : `On *${escapeMrkdwn(fix.host)}*, ufw: ${what}, inserted as rule 1. ufw saves it at once and has no timer: deleted again if verification fails.`;
  const room = slackLimits.confirmText - head.length - 10;
  return room > 20 ? `${head}\nRuns \`${escapeMrkdwn(truncate(fix.commands[0] ?? '', room))}\`` : head;
}

/** The dialog must say exactly what changes where: host, effect, and the command itself. */
function applyButton(fix: FixOption, proposalId: string): ButtonElement {
  const firstCommand = fix.commands[0] ?? '';
  const more = fix.commands.length > 1 ? ` (+${fix.commands.length - 1} more)` : '';
  const text = fix.manager
    ? managerDialogText(fix, fix.manager)
    : `On *${escapeMrkdwn(fix.host)}*: ${escapeMrkdwn(fix.effect)}\nRuns \`${escapeMrkdwn(truncate(firstCommand, 120))}\`${more}. Runtime rules only; reverted automatically if verification fails.`;
  return button(actionIds.apply, `Apply: ${fix.title}`, proposalId, {
    style: 'primary',
    confirm: confirmDialog(`Apply "${fix.title}" on ${fix.host}?`, text, 'Apply', 'danger'),
  });
}

function decisionBlocks(input: FindingsMessageInput): Block[] {
  const { decision, change } = input;
  const blocks: Block[] = [];
  if (decision) {
    const who = decision.by.map((u) => `<@${u}>`).join(' and ');
    blocks.push(section(decision.action === 'approved'
      ? `✅ *Approved* by ${who} on ${slackDate(decision.atMs)}: apply _${escapeMrkdwn(decision.fixTitle ?? decision.proposalId ?? '')}_`
      : `🗑️ *Dismissed* by ${who} on ${slackDate(decision.atMs)}: nothing will be changed.`));
  }
  if (change) {
    const icon = { queued: '⏳', running: '⏳', succeeded: '✅', failed: '❌' }[change.status];
    const step = change.step ? ` (${escapeMrkdwn(change.step)})` : '';
    const message = change.message ? `: ${escapeMrkdwn(truncate(change.message, 1000))}` : '';
    blocks.push(context(`${icon} ${change.kind} ${change.status}${step}${message} · <@${change.by}> · ${slackDate(change.atMs)}`));
  }
  return blocks;
}

function actionButtons(input: FindingsMessageInput, fixes: FixOption[]): ButtonElement[] {
  const rerun = button(actionIds.rerun, 'Re-run', input.triageId);
  const byFix = new Map(input.proposals.map((p) => [p.fixId, p]));
  if (input.decision?.action === 'dismissed') return [rerun];
  if (input.decision?.action === 'approved') {
    const chosen = input.proposals.find((p) => p.proposalId === input.decision?.proposalId);
    const chosenFix = fixes.find((f) => f.id === chosen?.fixId);
    const host = chosenFix?.host ?? 'the host';
    const manager = chosenFix?.manager?.kind;
    const buttons: ButtonElement[] = [];
    // A manager fix is already permanent once applied (firewalld --permanent, ufw saves itself).
    if (chosen?.status === 'applied' && !manager) {
      buttons.push(button(actionIds.makePermanent, 'Make permanent', chosen.proposalId, {
        confirm: confirmDialog(`Make permanent on ${host}?`, `Writes the running rules to *${escapeMrkdwn(host)}*'s saved firewall file (previous file kept as .bak), so the fix survives a reboot.`, 'Make permanent'),
      }));
    }
    if (chosen && (chosen.status === 'applied' || chosen.status === 'persisted')) {
      buttons.push(button(actionIds.rollback, 'Rollback', chosen.proposalId, {
        style: 'danger',
        confirm: confirmDialog(`Roll back on ${host}?`, manager
          ? `Removes the fix's rule from ${manager} on *${escapeMrkdwn(host)}* (${manager === 'firewalld' ? 'permanent rule removed, then a reload' : 'ufw delete'}).`
          : `Restores *${escapeMrkdwn(host)}*'s firewall rules saved before the fix was applied.`, 'Roll back', 'danger'),
      }));
    }
    return [...buttons, rerun];
  }
  const apply = fixes
    .map((fix) => ({ fix, proposal: byFix.get(fix.id) }))
    .filter(({ fix, proposal }) => fix.kind === 'firewall' && proposal?.status === 'pending')
    .map(({ fix, proposal }) => applyButton(fix, proposal?.proposalId ?? ''));
  return [...apply, button(actionIds.dismiss, 'Dismiss', input.triageId), rerun];
}

/** The verdict: headline, deciding rule, evidence, warnings, fixes and the buttons. Pure. */
export function buildFindingsMessage(input: FindingsMessageInput): SlackMessage {
  const { report } = input;
  const head: Block[] = [section(headline(report) + (input.note ? `\n_${escapeMrkdwn(input.note)}_` : '')), context(targetLine(report, input.requester))];
  const optional: Block[] = [];
  const rule = decidingRule(report);
  if (rule) optional.push(rule);
  const sym = symptoms(report);
  if (sym) optional.push(sym);
  if (report.warnings.length > 0) {
    optional.push(section(`⚠️ *Warnings*\n${report.warnings.map((w) => `• ${escapeMrkdwn(w.message)}`).join('\n')}`));
  }
  const fixes = report.fixes.slice(0, maxFixes);
  if (fixes.length > 0) {
    optional.push({ type: 'divider' });
    fixes.forEach((fix, i) => optional.push(fixBlock(fix, i)));
  }
  if (report.evidence.length > 0) {
    optional.push({ type: 'divider' }, section('*Evidence*'));
    for (const item of report.evidence) optional.push(evidenceBlock(item));
  }

  const tail: Block[] = decisionBlocks(input);
  const approvals = input.proposals.find((p) => p.status === 'pending' && p.approvers.length > 0);
  if (!input.decision && approvals) {
    tail.push(context(`Approved so far by ${approvals.approvers.map((u) => `<@${u}>`).join(', ')} (${approvals.approvers.length} of ${approvals.requiredApprovals}); needs another approver.`));
  }
  const expiry = input.proposals.filter((p) => p.status === 'pending' && p.expiresAtMs !== undefined).map((p) => p.expiresAtMs ?? 0);
  if (!input.decision && input.interactive && expiry.length > 0) {
    tail.push(context(`Apply buttons expire on ${slackDate(Math.min(...expiry))}; after that, Re-run for a fresh diagnosis.`));
  }
  if (input.interactive) {
    tail.push({ type: 'actions', block_id: 'wb_actions', elements: actionButtons(input, fixes).slice(0, slackLimits.actionsElements) });
  }
  return {
    text: truncate(`${report.target.host} ${report.port}/${report.protocol}: ${report.summary}`, slackLimits.messageText),
    blocks: fitBlocks(head, optional, tail),
  };
}
