import type { QueueCounts } from './create-metrics.ts';

/** The part of a BullMQ Queue the metrics need; structural so this file does not pull in bullmq. */
export interface CountableQueue {
  name: string;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
}

/** States worth watching: growth in waiting/prioritized means workers cannot keep up; failed is kept by BullMQ's retention. */
export const watchedJobStates = ['waiting', 'prioritized', 'waiting-children', 'active', 'delayed', 'failed'] as const;

/** Builds the `getQueueCounts` source of createMetrics() from BullMQ queues. */
export function queueCountsFrom(queues: CountableQueue[]): () => Promise<QueueCounts> {
  return async () => {
    const entries = await Promise.all(queues.map(async (q) => [q.name, await q.getJobCounts(...watchedJobStates)] as const));
    return Object.fromEntries(entries);
  };
}
