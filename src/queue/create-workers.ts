import { AuditLog } from '../fix/audit-log.ts';
import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../log/create-logger.ts';
import type { WhyBlockedMetrics } from '../metrics/create-metrics.ts';
import { changesQueueName, triageQueueName, probeQueueName } from './names.ts';
import { createProbeProcessor } from './probe-processor.ts';
import { ProposalStore, type ProposalPolicy } from './proposal-store.ts';
import { createWorkerConnection } from './redis-connections.ts';
import { createTriageProcessor } from './triage-processor.ts';
import type { AssembleReport, RunProbe } from './triage-ports.ts';
import { TriageStateStore } from './triage-state-store.ts';

export interface CreateWorkersOptions {
  redisUrl: string;
  /** BullMQ key prefix. @defaultValue 'bull' */
  prefix?: string;
  log: Logger;
  /** Sites whose probe queues this process serves (`why-blocked.probes.<site>`). */
  sites: string[];
  /** Required when `sites` is non-empty. */
  runProbe?: RunProbe;
  /** Set to run the parent triage (aggregation) worker in this process. */
  assembleReport?: AssembleReport;
  proposalPolicy?: ProposalPolicy;
  /**
   * Set to apply approved changes in this process (only workers hold the SSH key). Built with the
   * worker's own Redis connection, which it must not close.
   */
  processChange?: (redis: Redis) => (job: Job) => Promise<unknown>;
  /** The change lock must outlive the dead-man timer, or a stalled check could start a second apply. @defaultValue 120000 */
  changeLockDurationMs?: number;
  /** Probes run in parallel per site worker. @defaultValue 8 */
  probeConcurrency?: number;
  /** @defaultValue 30000 */
  lockDurationMs?: number;
  /** @defaultValue 30000 */
  stalledIntervalMs?: number;
  /** @defaultValue 1 */
  maxStalledCount?: number;
  now?: () => number;
  /** WHY_BLOCKED_AUDIT_FILE, resolved: this process's JSON-lines copy of the proposals it records (the Redis stream is shared). */
  auditFile?: string;
  /** Counts triages and probes as they finish (wrap processChange for change outcomes). */
  metrics?: Pick<WhyBlockedMetrics, 'observeTriage' | 'observeProbe' | 'observeEvidence'>;
}

export interface WorkerSet {
  workers: Worker[];
  /** Stops fetching, waits for active jobs, then closes connections. */
  close(): Promise<void>;
}

export function createWorkers(options: CreateWorkersOptions): WorkerSet {
  const prefix = options.prefix ?? 'bull';
  const now = options.now ?? Date.now;
  const log = options.log;
  const metrics = options.metrics ? { metrics: options.metrics } : {};
  const connections: Redis[] = [];
  const connect = (): Redis => {
    const c = createWorkerConnection(options.redisUrl);
    c.on('error', (err) => log.warn({ err }, 'worker redis connection error'));
    connections.push(c);
    return c;
  };
  const stateRedis = connect();
  const state = new TriageStateStore(stateRedis, prefix);
  const workerOptions = {
    prefix,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 1,
  };
  const workers: Worker[] = [];
  const watch = (worker: Worker, kind: string): Worker => {
    // Without an 'error' listener a worker can silently stop processing.
    worker.on('error', (err) => log.error({ err, queue: worker.name }, `${kind} worker error`));
    workers.push(worker);
    return worker;
  };

  if (options.sites.length > 0) {
    if (!options.runProbe) throw new Error('createWorkers: runProbe is required to serve probe queues');
    const processor = createProbeProcessor({ runProbe: options.runProbe, state, log: log.child({ component: 'probe-worker' }), now, ...metrics });
    for (const site of options.sites) {
      watch(new Worker(probeQueueName(site), processor, {
        ...workerOptions, connection: connect() as unknown as ConnectionOptions, concurrency: options.probeConcurrency ?? 8,
      }), 'probe');
    }
  }

  if (options.assembleReport) {
    const proposals = new ProposalStore(stateRedis, prefix, options.proposalPolicy);
    const audit = new AuditLog({ redis: stateRedis, prefix, now, ...(options.auditFile ? { file: options.auditFile } : {}) });
    const processor = createTriageProcessor({ assembleReport: options.assembleReport, state, proposals, audit, log: log.child({ component: 'triage-worker' }), now, ...metrics });
    const worker = watch(new Worker(triageQueueName, processor, {
      ...workerOptions, connection: connect() as unknown as ConnectionOptions, concurrency: 16,
    }), 'triage');
    worker.on('failed', (job: Job | undefined, err: Error) => {
      if (!job) return;
      const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      if (!final) return;
      options.metrics?.observeTriage({ cause: 'none', durationMs: now() - job.timestamp, outcome: 'failed' });
      const triageId = (job.data as { triageId?: string }).triageId;
      if (triageId) {
        state.fail(triageId, 'failed', `The triage could not be assembled: ${err.message}`)
          .catch((e: unknown) => log.error({ err: e, triageId }, 'could not record triage failure'));
      }
    });
  }

  if (options.processChange) {
    watch(new Worker(changesQueueName, options.processChange(stateRedis), {
      ...workerOptions, lockDuration: options.changeLockDurationMs ?? 120_000,
      connection: connect() as unknown as ConnectionOptions, concurrency: 8,
    }), 'change');
  }

  let closing: Promise<void> | undefined;
  return {
    workers,
    close: () => {
      closing ??= (async () => {
        await Promise.all(workers.map((w) => w.close()));
        await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
      })();
      return closing;
    },
  };
}
