import { FlowProducer, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ProbeName } from '../triage/report-types.ts';
import type { Logger } from '../log/create-logger.ts';
import { jobNames, probeQueueName, triageQueueName } from './names.ts';
import type { ProbeJobData, TriageJobData, TriageRequest } from './job-schemas.ts';
import { probeJobId, requestFingerprint, triageIdFor } from './triage-ids.ts';
import { reuseWindowMs, TriageStateStore, type TriageState } from './triage-state-store.ts';

export interface TriageProducerOptions {
  /** Producer connection (fail-fast options; see createProducerConnection). */
  connection: Redis;
  /** BullMQ key prefix; also namespaces the bot's own state keys. @defaultValue 'bull' */
  prefix?: string;
  log: Logger;
  /** Per-attempt budget of one probe. @defaultValue 8000 */
  probeTimeoutMs?: number;
  /** After this long the watchdog marks the triage timed out. @defaultValue 30000 */
  triageTimeoutMs?: number;
  /** Attempts per probe job for transient failures. @defaultValue 3 */
  probeAttempts?: number;
  /** First retry delay; doubles each attempt. @defaultValue 500 */
  probeBackoffMs?: number;
  now?: () => number;
}

export interface StartTriageInput {
  triggerId: string;
  request: TriageRequest;
  site: string;
  probes: ProbeName[];
  requester: string;
  channel: string;
  /** Posts the live message and returns its ts; called only when a new triage really starts. */
  postMessage: (triageId: string) => Promise<{ ts: string }>;
  /** Answer an identical recent request with that triage instead. @defaultValue true */
  reuseRecent?: boolean;
}

export type StartTriageResult =
  | { kind: 'started'; triageId: string; ts: string }
  | { kind: 'duplicate-trigger' }
  | { kind: 'reused'; triage: TriageState };

export interface TriageProducer {
  readonly state: TriageStateStore;
  startTriage(input: StartTriageInput): Promise<StartTriageResult>;
  close(): Promise<void>;
}

const triggerTtlSeconds = 600;

export function createTriageProducer(options: TriageProducerOptions): TriageProducer {
  const prefix = options.prefix ?? 'bull';
  const now = options.now ?? Date.now;
  const probeTimeoutMs = options.probeTimeoutMs ?? 8000;
  const triageTimeoutMs = options.triageTimeoutMs ?? 30_000;
  const redis = options.connection;
  const state = new TriageStateStore(redis, prefix);
  const flow = new FlowProducer({ connection: redis as unknown as ConnectionOptions, prefix });
  flow.on('error', (err) => options.log.error({ err }, 'flow producer error'));

  async function claimFingerprint(triageId: string, fingerprint: string): Promise<TriageState | undefined> {
    const key = state.keys.recent(fingerprint);
    // Held while running (plus the reuse window); shortened to the window when the triage ends.
    const holdMs = triageTimeoutMs + reuseWindowMs;
    for (let i = 0; i < 3; i += 1) {
      if (await redis.set(key, triageId, 'PX', holdMs, 'NX')) return undefined;
      const existingId = await redis.get(key);
      if (existingId === null) continue;
      const existing = await state.get(existingId);
      if (existing) return existing;
      // The key points at state that is gone: take it over.
      await redis.set(key, triageId, 'PX', holdMs);
      return undefined;
    }
    return undefined;
  }

  async function startTriage(input: StartTriageInput): Promise<StartTriageResult> {
    const triageId = triageIdFor(input.triggerId);
    // Users double-submit; Slack may also redeliver. One trigger ⇒ at most one flow.
    if (!(await redis.set(state.keys.trigger(input.triggerId), triageId, 'EX', triggerTtlSeconds, 'NX'))) {
      return { kind: 'duplicate-trigger' };
    }
    const fingerprint = requestFingerprint(input.request);
    if (input.reuseRecent ?? true) {
      const existing = await claimFingerprint(triageId, fingerprint);
      if (existing) return { kind: 'reused', triage: existing };
    } else {
      await redis.set(state.keys.recent(fingerprint), triageId, 'PX', triageTimeoutMs + reuseWindowMs);
    }

    let ts: string;
    try {
      ({ ts } = await input.postMessage(triageId));
    } catch (err) {
      await redis.del(state.keys.recent(fingerprint));
      throw err;
    }
    const createdAtMs = now();
    await state.create({
      triageId, request: input.request, site: input.site, probes: input.probes, channel: input.channel, ts,
      requester: input.requester, createdAtMs, deadlineAtMs: createdAtMs + triageTimeoutMs, fingerprint,
    });

    const parentData: TriageJobData = { triageId, request: input.request, site: input.site, probes: input.probes };
    try {
      await flow.add({
        name: jobNames.triage,
        queueName: triageQueueName,
        data: parentData,
        opts: { jobId: triageId, attempts: 2, backoff: { type: 'fixed', delay: 500 }, removeOnComplete: { age: 3600 }, removeOnFail: { age: 86_400 } },
        children: input.probes.map((probe) => {
          const data: ProbeJobData = { triageId, probe, request: input.request, timeoutMs: probeTimeoutMs };
          return {
            name: jobNames.probe,
            queueName: probeQueueName(input.site),
            data,
            opts: {
              jobId: probeJobId(triageId, probe),
              attempts: options.probeAttempts ?? 3,
              backoff: { type: 'exponential', delay: options.probeBackoffMs ?? 500 },
              // A failed probe is evidence: the parent must still run and say what failed.
              ignoreDependencyOnFailure: true,
              removeOnComplete: { age: 3600 },
              removeOnFail: { age: 86_400 },
            },
          };
        }),
      });
    } catch (err) {
      options.log.error({ err, triageId }, 'could not enqueue triage');
      await state.fail(triageId, 'failed', 'The job queue is unavailable (Redis?), so nothing was checked. Try again in a minute.');
      throw err;
    }
    return { kind: 'started', triageId, ts };
  }

  return {
    state,
    startTriage,
    close: async () => { await flow.close(); },
  };
}
