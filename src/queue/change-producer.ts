import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { changesQueueName } from './names.ts';
import type { ChangeJobData } from './job-schemas.ts';

export interface ChangeProducer {
  /** Enqueues at most one job per (kind, proposal): `jobId` is `<kind>-<proposalId>`. */
  enqueue(data: ChangeJobData): Promise<{ jobId: string }>;
  readonly queue: Queue;
  close(): Promise<void>;
}

export function changeJobId(kind: ChangeJobData['kind'], proposalId: string): string {
  return `${kind}-${proposalId}`;
}

export function createChangeProducer(connection: Redis, prefix = 'bull'): ChangeProducer {
  const queue = new Queue(changesQueueName, { connection: connection as unknown as ConnectionOptions, prefix });
  return {
    queue,
    enqueue: async (data) => {
      const jobId = changeJobId(data.kind, data.proposalId);
      // Changes are not retried blindly: the apply job must decide itself whether a retry is safe.
      await queue.add(data.kind, data, { jobId, attempts: 1, removeOnComplete: { age: 7 * 86_400 }, removeOnFail: { age: 30 * 86_400 } });
      return { jobId };
    },
    close: () => queue.close(),
  };
}
