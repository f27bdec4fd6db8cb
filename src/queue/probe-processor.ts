import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from '../log/create-logger.ts';
import type { WhyBlockedMetrics } from '../metrics/create-metrics.ts';
import { asWhyBlockedError, ErrorCode, WhyBlockedError } from '../errors.ts';
import type { EvidenceItem } from '../triage/report-types.ts';
import { probeJobDataSchema } from './job-schemas.ts';
import type { RunProbe } from './triage-ports.ts';
import type { TriageStateStore } from './triage-state-store.ts';

export interface ProbeProcessorDeps {
  runProbe: RunProbe;
  state: TriageStateStore;
  log: Logger;
  now: () => number;
  /** Probe durations and failures, per attempt. */
  metrics?: Pick<WhyBlockedMetrics, 'observeProbe' | 'observeEvidence'>;
}

/** Resolves or rejects with the probe, but never later than the abort: a probe that ignores its signal cannot wedge a worker. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) { onAbort(); return; }
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export function createProbeProcessor(deps: ProbeProcessorDeps) {
  return async (job: Job, _token?: string, workerSignal?: AbortSignal): Promise<EvidenceItem> => {
    const data = probeJobDataSchema.parse(job.data);
    const log = deps.log.child({ triageId: data.triageId, probe: data.probe, jobId: job.id, attempt: job.attemptsMade + 1 });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new WhyBlockedError(ErrorCode.CommandTimeout,
      `The ${data.probe} probe did not finish within ${data.timeoutMs} ms.`)), data.timeoutMs);
    const onWorkerAbort = (): void => controller.abort(new Error('cancelled by worker'));
    workerSignal?.addEventListener('abort', onWorkerAbort, { once: true });
    const startedMs = deps.now();
    try {
      const evidence = await untilAborted(deps.runProbe(data.probe, data.request, { signal: controller.signal, log, triageId: data.triageId }), controller.signal);
      const finishedAt = deps.now();
      const durationMs = evidence.durationMs ?? finishedAt - startedMs;
      deps.metrics?.observeEvidence({ probe: data.probe, durationMs, ...(evidence.error ? { error: evidence.error } : {}) });
      await deps.state.recordProbe(data.triageId, {
        probe: data.probe, ok: evidence.ok, durationMs, summary: evidence.summary, finishedAt,
      });
      return evidence;
    } catch (thrown) {
      const err = asWhyBlockedError(thrown);
      deps.metrics?.observeProbe({ probe: data.probe, durationMs: deps.now() - startedMs, ok: false, code: err.code });
      const final = err.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      log.warn({ err, final }, 'probe failed');
      if (final) {
        const finishedAt = deps.now();
        await deps.state.recordProbe(data.triageId, {
          probe: data.probe, ok: false, durationMs: finishedAt - startedMs, summary: `could not run: ${err.message}`, finishedAt,
        });
      }
      // Auth, host-key and validation problems do not heal by retrying.
      if (err.permanent) throw new UnrecoverableError(`${err.code}: ${err.message}`);
      throw thrown instanceof Error ? thrown : err;
    } finally {
      clearTimeout(timer);
      workerSignal?.removeEventListener('abort', onWorkerAbort);
    }
  };
}
