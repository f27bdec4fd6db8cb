import type { TriageRequest } from '../queue/job-schemas.ts';
import type { StartTriageResult } from '../queue/triage-producer.ts';
import type { BotDeps } from './bot-deps.ts';
import { buildProgressMessage } from './views/progress-message.ts';

export interface StartCheckInput {
  triggerId: string;
  request: TriageRequest;
  requester: string;
  channel: string;
  reuseRecent: boolean;
}

/** Shared by the slash command and Re-run: post the live message, then enqueue the flow. */
export async function startCheck(deps: BotDeps, input: StartCheckInput): Promise<StartTriageResult> {
  const probes = deps.probePlan(input.request);
  const createdAtMs = deps.now();
  return deps.triage.startTriage({
    triggerId: input.triggerId,
    request: input.request,
    site: deps.siteOf(input.request.host),
    probes,
    requester: input.requester,
    channel: input.channel,
    reuseRecent: input.reuseRecent,
    postMessage: () => deps.web.postMessage(input.channel, buildProgressMessage({
      request: input.request, requester: input.requester, probes, progress: [], createdAtMs, nowMs: createdAtMs,
    })),
  });
}
