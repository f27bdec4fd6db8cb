export { createMetrics, type ApplyObservation, type MetricsOptions, type ProbeObservation, type QueueCounts, type SshPoolGaugeStats, type TriageObservation, type TriageOutcome, type WhyBlockedMetrics } from './create-metrics.ts';
export { metricsHandler } from './metrics-handler.ts';
export { createHealthHandler, createHealthServer, type HealthOptions, type HealthServer, type HealthServerOptions } from './health-server.ts';
export { combineChecks, redisReadyCheck, workersReadyCheck, type ReadyCheck, type ReadyResult } from './ready-checks.ts';
export { queueCountsFrom, watchedJobStates, type CountableQueue } from './queue-counts-from.ts';
