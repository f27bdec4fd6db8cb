import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { silentLogger } from '../../src/log/create-logger.ts';
import { startPrivateRedis } from '../../src/queue/private-redis.ts';

describe('the private redis-server of `why-blocked start`', () => {
  it('listens on loopback only, with AOF and noeviction, keeps its data in the given dir, and is gone after stop()', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'wb-redis-'));
    const redis = await startPrivateRedis({ bin: 'redis-server', dir: 'var/redis', cwd, log: silentLogger() });
    expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    const client = new Redis(redis.url);
    try {
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      expect(await client.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
      expect(await client.config('GET', 'dir')).toEqual(['dir', join(cwd, 'var/redis')]);
      await client.set('k', 'v');
    } finally {
      client.disconnect();
    }
    expect(existsSync(join(cwd, 'var/redis'))).toBe(true);
    await redis.stop();
    const after = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    after.on('error', () => undefined);
    // Nothing listens there any more: the connection is refused and closed.
    await expect(after.connect()).rejects.toThrow(/ECONNREFUSED|Connection is closed/);
    after.disconnect();
  });

  it('names what to install when the binary is missing', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'wb-redis-'));
    await expect(startPrivateRedis({ bin: join(cwd, 'no-redis-server'), dir: 'data', cwd, log: silentLogger() }))
      .rejects.toThrow(/was not found: install Redis \(Debian\/Ubuntu: `apt-get install redis-server`/);
  });
});
