import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { ErrorCode, WhyBlockedError } from '../errors.ts';

export interface HostLock {
  /** Waits until the host is free; resolves with the release function. */
  acquire(host: string, options?: { signal?: AbortSignal }): Promise<() => Promise<void>>;
}

const releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * One change per host at a time across all workers. A second change WAITS (it is approved and
 * must run); the TTL only frees the lock of a worker that died, which the dead-man covers.
 */
export function redisHostLock(redis: Redis, prefix: string, options: { ttlMs?: number; waitMs?: number; pollMs?: number } = {}): HostLock {
  const ttlMs = options.ttlMs ?? 15 * 60_000;
  const waitMs = options.waitMs ?? 30 * 60_000;
  const pollMs = options.pollMs ?? 250;
  return {
    async acquire(host, opts = {}) {
      const key = `${prefix}:wb:hostlock:${host}`;
      const token = randomBytes(12).toString('hex');
      const deadline = Date.now() + waitMs;
      for (;;) {
        if (await redis.set(key, token, 'PX', ttlMs, 'NX') === 'OK') {
          return async () => { await redis.eval(releaseScript, 1, key, token); };
        }
        if (Date.now() > deadline) {
          throw new WhyBlockedError(ErrorCode.ApplyFailed, `Another change to ${host} has held its lock for over ${Math.round(waitMs / 60_000)} min; check the worker logs, then retry.`);
        }
        await sleep(pollMs, undefined, opts.signal ? { signal: opts.signal } : {});
      }
    },
  };
}

/** In-process lock for the demo and the CLI, where one process is the only writer. */
export function memoryHostLock(): HostLock {
  const tails = new Map<string, Promise<void>>();
  return {
    async acquire(host) {
      const before = tails.get(host) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((r) => { release = r; });
      tails.set(host, before.then(() => mine));
      await before;
      return async () => { release(); };
    },
  };
}
