import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { Redis } from 'ioredis';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { Logger } from '../log/create-logger.ts';

export interface PrivateRedisOptions {
  /** redis-server binary (WHY_BLOCKED_REDIS_BIN). */
  bin: string;
  /** Data directory for the AOF (WHY_BLOCKED_REDIS_DIR), relative to cwd. */
  dir: string;
  cwd: string;
  log: Logger;
  /** @defaultValue a free loopback port */
  port?: number;
  /** @defaultValue 10000 */
  startTimeoutMs?: number;
}

export interface PrivateRedis {
  url: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const installHint = 'install Redis (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`), set WHY_BLOCKED_REDIS_BIN to its path, or set REDIS_URL to an existing Redis';

/**
 * For `why-blocked start` without REDIS_URL: a redis-server child that only this process uses.
 * Loopback only, AOF on (queued jobs survive a restart), noeviction (BullMQ loses jobs when
 * Redis evicts keys). It is killed when this process exits, however it exits.
 */
export async function startPrivateRedis(options: PrivateRedisOptions): Promise<PrivateRedis> {
  const dir = resolvePath(options.cwd, options.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const port = options.port ?? await freePort();
  const args = [
    '--bind', '127.0.0.1', '--port', String(port), '--protected-mode', 'yes', '--dir', dir,
    '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--save', '', '--daemonize', 'no', '--logfile', '',
  ];
  const child: ChildProcess = spawn(options.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = (): void => { child.kill('SIGTERM'); };
  process.once('exit', killOnExit);
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { output = (output + d).slice(-4000); });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { output = (output + d).slice(-4000); });
  const exited = new Promise<never>((_resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(new WhyBlockedError(ErrorCode.ConfigInvalid, err.code === 'ENOENT'
        ? `REDIS_URL is unset and "${options.bin}" was not found: ${installHint}.`
        : `could not run "${options.bin}" (${err.message}): ${installHint}.`, { cause: err }));
    });
    child.once('exit', (code, signal) => {
      reject(new WhyBlockedError(ErrorCode.ConfigInvalid,
        `the private redis-server exited (${signal ?? `code ${code}`}) before it was ready: ${output.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
  exited.catch(() => undefined);
  const url = `redis://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => { clearTimeout(timer); resolve(); });
      child.kill('SIGTERM');
    });
  };
  try {
    await Promise.race([exited, waitForPing(url, options.startTimeoutMs ?? 10_000)]);
  } catch (err) {
    await stop();
    throw err;
  }
  options.log.info({ url, dir }, 'started a private redis-server (REDIS_URL is unset)');
  return { url, stop };
}

async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      await redis.ping();
      return;
    } catch {
      if (Date.now() > deadline) throw new WhyBlockedError(ErrorCode.ConfigInvalid, `the private redis-server did not answer on ${url} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      redis.disconnect();
    }
  }
}
