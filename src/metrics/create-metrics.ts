import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Job counts per queue, e.g. `{ 'why-blocked.triage': { waiting: 2, active: 1 } }`. */
export type QueueCounts = Record<string, Partial<Record<string, number>>>;

export interface SshPoolGaugeStats {
  openConnections: number;
  channelsInUse: number;
  channelsWaiting: number;
}

export interface MetricsOptions {
  /** Read on every scrape; see queueCountsFrom() for BullMQ queues. */
  getQueueCounts?: () => Promise<QueueCounts>;
  /** Read on every scrape; SshPool.stats() fits as is. */
  poolStats?: () => SshPoolGaugeStats | Promise<SshPoolGaugeStats>;
  /** Labels on every series, e.g. `{ role: 'worker', site: 'dc1' }`. */
  defaultLabels?: Record<string, string>;
  /** A hung Redis must not hang the scrape: queue gauges give up after this. @defaultValue 2000 */
  collectTimeoutMs?: number;
  /** Node/process metrics (CPU, memory, event loop lag, GC). @defaultValue true */
  processMetrics?: boolean;
}

export type TriageOutcome = 'completed' | 'failed' | 'timed_out';

export interface TriageObservation {
  /** The report's cause; use 'none' when the triage produced no report. */
  cause: string;
  durationMs: number;
  /** @defaultValue 'completed' */
  outcome?: TriageOutcome;
}

export interface ProbeObservation {
  probe: string;
  durationMs: number;
  ok: boolean;
  /** Stable error code of a failure (WhyBlockedError.code); bounded so the series count stays small. */
  code?: string;
}

export interface ApplyObservation {
  /** apply | persist | rollback */
  kind: string;
  /** e.g. applied, refused, rolled_back, failed, persisted */
  outcome: string;
}

export interface WhyBlockedMetrics {
  registry: Registry;
  observeTriage(o: TriageObservation): void;
  /** A finished TriageReport (completed triage): its cause and durationMs. */
  observeReport(report: { cause: string; durationMs: number }): void;
  observeProbe(o: ProbeObservation): void;
  /** A probe's EvidenceItem: failed when it carries an error (the probe could not run), whatever it observed. */
  observeEvidence(item: { probe: string; durationMs: number; error?: { code: string } }): void;
  observeApply(o: ApplyObservation): void;
}

const labelValuePattern = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Label values come from reports and errors; anything unexpected collapses to one series instead of many. */
function safeLabel(value: string | undefined, fallback: string): string {
  if (value === undefined || value === '') return fallback;
  return labelValuePattern.test(value) ? value : 'other';
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`metrics source did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * One registry per process: counters are fed by observe*(), gauges are read from the
 * injected sources at scrape time so they are never stale and cost nothing between scrapes.
 */
export function createMetrics(options: MetricsOptions = {}): WhyBlockedMetrics {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const collectTimeoutMs = options.collectTimeoutMs ?? 2000;
  const registers = [registry];

  const triages = new Counter({
    name: 'why_blocked_triages_total', help: 'Triages finished, by cause and outcome.',
    labelNames: ['cause', 'outcome'] as const, registers,
  });
  const triageDuration = new Histogram({
    name: 'why_blocked_triage_duration_seconds', help: 'Wall time of a whole triage, from enqueue to verdict.',
    labelNames: ['outcome'] as const, buckets: [0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 20, 30, 60, 120], registers,
  });
  const probeDuration = new Histogram({
    name: 'why_blocked_probe_duration_seconds', help: 'Wall time of one probe, by probe.',
    labelNames: ['probe'] as const, buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30], registers,
  });
  const probeFailures = new Counter({
    name: 'why_blocked_probe_failures_total', help: 'Probes that could not run or errored, by probe and error code.',
    labelNames: ['probe', 'code'] as const, registers,
  });
  const applyOutcomes = new Counter({
    name: 'why_blocked_apply_outcomes_total', help: 'Change jobs finished, by kind and outcome.',
    labelNames: ['kind', 'outcome'] as const, registers,
  });

  const getQueueCounts = options.getQueueCounts;
  // Both queue gauges are collected in the same scrape: share one Redis round trip between them.
  let inFlight: Promise<QueueCounts | undefined> | undefined;
  const loadCounts = (): Promise<QueueCounts | undefined> => {
    if (!getQueueCounts) return Promise.resolve(undefined);
    inFlight ??= withTimeout(getQueueCounts(), collectTimeoutMs)
      // An unreachable Redis shows as queue_counts_up 0, not as a failed scrape of everything else.
      .catch(() => undefined)
      .finally(() => { inFlight = undefined; });
    return inFlight;
  };
  // Gauges without a source are not registered at all: an unlabelled gauge would otherwise read 0,
  // and the bot's "0 SSH connections" would look like a worker's idle pool.
  if (getQueueCounts) {
    new Gauge({
      name: 'why_blocked_queue_counts_up', help: '1 when this scrape read the queue counts from Redis, else 0.', registers,
      async collect() {
        this.set((await loadCounts()) === undefined ? 0 : 1);
      },
    });
  }
  new Gauge({
    name: 'why_blocked_queue_jobs', help: 'Jobs per queue and state, read from Redis at scrape time.',
    labelNames: ['queue', 'state'] as const, registers,
    async collect() {
      this.reset();
      const counts = await loadCounts();
      for (const [queue, states] of Object.entries(counts ?? {})) {
        for (const [state, n] of Object.entries(states)) {
          if (typeof n === 'number') this.set({ queue: safeLabel(queue, 'unknown'), state: safeLabel(state, 'unknown') }, n);
        }
      }
    },
  });

  const poolStats = options.poolStats;
  const poolGauge = (name: string, help: string, pick: (s: SshPoolGaugeStats) => number): void => {
    new Gauge({
      name, help, registers,
      async collect() {
        if (!poolStats) return;
        try {
          this.set(pick(await poolStats()));
        } catch {
          this.reset();
        }
      },
    });
  };
  if (poolStats) {
    poolGauge('why_blocked_ssh_connections_open', 'SSH connections in the pool that are ready.', (s) => s.openConnections);
    poolGauge('why_blocked_ssh_channels_in_use', 'SSH exec channels running a command now.', (s) => s.channelsInUse);
    poolGauge('why_blocked_ssh_channels_waiting', 'Commands waiting for a free SSH channel (sustained > 0: raise the per-connection limit or add workers).', (s) => s.channelsWaiting);
  }

  const observeTriage = ({ cause, durationMs, outcome = 'completed' }: TriageObservation): void => {
    triages.inc({ cause: safeLabel(cause, 'none'), outcome });
    triageDuration.observe({ outcome }, Math.max(0, durationMs) / 1000);
  };
  const observeProbe = ({ probe, durationMs, ok, code }: ProbeObservation): void => {
    const label = safeLabel(probe, 'unknown');
    probeDuration.observe({ probe: label }, Math.max(0, durationMs) / 1000);
    if (!ok) probeFailures.inc({ probe: label, code: safeLabel(code, 'error') });
  };
  return {
    registry,
    observeTriage,
    observeReport: ({ cause, durationMs }) => observeTriage({ cause, durationMs, outcome: 'completed' }),
    observeProbe,
    observeEvidence: ({ probe, durationMs, error }) => observeProbe({ probe, durationMs, ok: error === undefined, ...(error ? { code: error.code } : {}) }),
    observeApply({ kind, outcome }) {
      applyOutcomes.inc({ kind: safeLabel(kind, 'unknown'), outcome: safeLabel(outcome, 'unknown') });
    },
  };
}
