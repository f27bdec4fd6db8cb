import { Redis, type RedisOptions } from 'ioredis';

/**
 * Workers block on Redis for long periods and must ride out Redis restarts, so BullMQ requires
 * `maxRetriesPerRequest: null` for them.
 */
export function createWorkerConnection(redisUrl: string, extra: RedisOptions = {}): Redis {
  return new Redis(redisUrl, { ...extra, maxRetriesPerRequest: null });
}

/**
 * The bot must answer Slack within 3 s: when Redis is down, fail the command at once with a clear
 * message instead of queueing it in memory.
 */
export function createProducerConnection(redisUrl: string, extra: RedisOptions = {}): Redis {
  return new Redis(redisUrl, { ...extra, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 });
}

/** Resolves once the connection can take commands (needed when the offline queue is off). */
export async function waitUntilReady(redis: Redis, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`Redis not ready after ${timeoutMs} ms: check REDIS_URL and that Redis is running.`)); }, timeoutMs);
    const onReady = (): void => { cleanup(); resolve(); };
    const cleanup = (): void => { clearTimeout(timer); redis.off('ready', onReady); };
    redis.on('ready', onReady);
  });
}
