import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const testRedisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A BullMQ prefix no other test (or helper session) uses. */
export function uniquePrefix(tag: string): string {
  return `wbtest-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under the prefix (queues and bot state). */
export async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(testRedisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
