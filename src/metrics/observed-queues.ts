import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../log/create-logger.ts';

export interface ObservedQueues {
  queues: Queue[];
  close(): Promise<void>;
}

/**
 * Read-side handles on the product's queues for the queue gauges and the board. One connection
 * that fails a command after one retry: a scrape during a Redis outage should report
 * queue_counts_up 0, not pile commands up in memory.
 */
export function openObservedQueues(options: { redisUrl: string; prefix: string; names: string[]; log: Logger }): ObservedQueues {
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
  redis.on('error', (err) => options.log.debug({ err }, 'metrics redis connection error'));
  const queues = [...new Set(options.names)].map((name) => {
    const q = new Queue(name, { connection: redis, prefix: options.prefix });
    q.on('error', (err) => options.log.debug({ err, queue: name }, 'metrics queue error'));
    return q;
  });
  return {
    queues,
    close: async () => {
      await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
