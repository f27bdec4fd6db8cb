export { createMetrics, type ApplyObservation, type MetricsOptions, type ProbeObservation, type QueueCounts, type SshPoolGaugeStats, type TriageObservation, type TriageOutcome, type WhyBlockedMetrics } from './create-metrics.ts';
export { metricsHandler } from './metrics-handler.ts';
export { queueCountsFrom, watchedJobStates, type CountableQueue } from './queue-counts-from.ts';
export { basicAuthMatches, type BasicCredentials } from './basic-auth.ts';
export { createQueueBoard, type QueueBoardHandler, type QueueBoardOptions } from './create-queue-board.ts';
export { changeOutcome, observeChangeOutcomes, type ChangeOutcomeLike } from './observe-change-outcomes.ts';
export { openObservedQueues, type ObservedQueues } from './observed-queues.ts';
// The health server lives with the queue readiness checks; re-exported for existing importers.
export { createHealthHandler, createHealthServer, type HealthServer, type HealthServerOptions, type Readiness, type ReadinessCheck } from '../queue/health-server.ts';
