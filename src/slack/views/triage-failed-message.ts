import type { ProbeName } from '../../triage/report-types.ts';
import type { TriageRequest } from '../../queue/job-schemas.ts';
import type { ProbeProgress } from '../../queue/triage-state-store.ts';
import { actionIds } from '../action-ids.ts';
import { button, context, escapeMrkdwn, formatDurationMs, section, truncate, type SlackMessage } from './block-kit.ts';
import { describeRequest } from './describe-request.ts';
import { probeLine } from './progress-message.ts';

export interface TriageFailedInput {
  triageId: string;
  request: TriageRequest;
  requester: string;
  probes: ProbeName[];
  progress: ProbeProgress[];
  reason: 'failed' | 'timed-out';
  error: string;
  elapsedMs: number;
  interactive: boolean;
}

/** Replaces the live message when the triage cannot produce a verdict, so it never sits at "checking…". */
export function buildTriageFailedMessage(input: TriageFailedInput): SlackMessage {
  const done = new Map(input.progress.map((p) => [p.probe, p]));
  const missing = input.probes.filter((p) => !done.has(p));
  const what = input.reason === 'timed-out'
    ? `timed out after ${formatDurationMs(input.elapsedMs)}`
    : 'failed';
  const blocks = [
    section(`⚠️ The check of ${describeRequest(input.request)} ${what}: no verdict.\n${escapeMrkdwn(truncate(input.error, 1500))}`),
    section(input.probes.map((p) => (done.has(p) ? probeLine(p, done.get(p)) : `⛔ *${p}*: did not finish`)).join('\n')),
  ];
  if (missing.length > 0 && input.reason === 'timed-out') {
    blocks.push(context(`Unfinished: ${missing.join(', ')}. Is a worker running for this host's site?`));
  }
  blocks.push(context(`asked by <@${input.requester}>`));
  if (input.interactive) {
    blocks.push({ type: 'actions', block_id: 'wb_failed_actions', elements: [button(actionIds.rerun, 'Re-run', input.triageId)] });
  }
  return { text: `Check of ${input.request.host} ${input.request.port}/tcp ${what}`, blocks };
}
