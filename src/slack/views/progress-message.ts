import type { ProbeName } from '../../triage/report-types.ts';
import type { TriageRequest } from '../../queue/job-schemas.ts';
import type { ProbeProgress } from '../../queue/triage-state-store.ts';
import { context, escapeMrkdwn, fitBlocks, formatDurationMs, section, truncate, type SlackMessage } from './block-kit.ts';
import { describeRequest } from './describe-request.ts';

export interface ProgressMessageInput {
  request: TriageRequest;
  requester: string;
  probes: ProbeName[];
  progress: ProbeProgress[];
  createdAtMs: number;
  nowMs: number;
}

export function probeLine(probe: ProbeName, done: ProbeProgress | undefined): string {
  if (!done) return `⏳ *${probe}*: running…`;
  const icon = done.ok ? '✅' : '❌';
  return `${icon} *${probe}* (${formatDurationMs(done.durationMs)}): ${escapeMrkdwn(truncate(done.summary, 300))}`;
}

/** The live message while probes run; replaced by the findings message at the end. */
export function buildProgressMessage(input: ProgressMessageInput): SlackMessage {
  const done = new Map(input.progress.map((p) => [p.probe, p]));
  const finished = input.probes.filter((p) => done.has(p)).length;
  const head = section(`🔍 Checking why ${describeRequest(input.request)} is blocked…`);
  const lines = input.probes.map((p) => probeLine(p, done.get(p)));
  return {
    text: `Checking ${input.request.host} ${input.request.port}/${input.request.protocol}: ${finished}/${input.probes.length} probes done`,
    blocks: fitBlocks([head], [section(lines.join('\n'))], [
      context(`${finished}/${input.probes.length} probes done · ${formatDurationMs(Math.max(0, input.nowMs - input.createdAtMs))} so far · asked by <@${input.requester}>`),
    ]),
  };
}
