import type { TriageState } from '../../queue/triage-state-store.ts';
import { formatDurationMs, section, type SlackMessage } from './block-kit.ts';
import { describeRequest } from './describe-request.ts';
import { buildFindingsMessage } from './findings-message.ts';

/** Ephemeral answer to a request identical to one running or finished moments ago. */
export function buildReusedTriageMessage(triage: TriageState, nowMs: number): SlackMessage {
  const ago = formatDurationMs(Math.max(0, nowMs - triage.createdAtMs));
  if (triage.status === 'done' && triage.report) {
    return buildFindingsMessage({
      report: triage.report, triageId: triage.triageId, requester: triage.requester, proposals: [], interactive: false,
      note: `Same check as one started ${ago} ago in <#${triage.channel}>; buttons are on that message.`,
    });
  }
  const state = triage.status === 'running' ? 'is already running' : `ended (${triage.status})`;
  return {
    text: `An identical check ${state}`,
    blocks: [section(`The same check of ${describeRequest(triage.request)} ${state}: it started ${ago} ago in <#${triage.channel}>, and its message there shows the result.`)],
  };
}
