import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { metricsHandler } from '../metrics/metrics-handler.ts';
import { probeQueueName, triageQueueName } from './names.ts';

export interface Readiness {
  ok: boolean;
  /** What is missing, in words an operator can act on; empty or absent when ready. */
  problems?: string[];
  /** Things worth knowing that do not make this process unready (e.g. a site without a worker). */
  warnings?: string[];
  detail?: Record<string, unknown>;
}

export type ReadinessCheck = () => Promise<Readiness>;

export interface HealthRoutesOptions {
  checks: { ready: ReadinessCheck };
  /** Serves GET /metrics from this registry when given. */
  metrics?: Registry;
  /** A readiness check slower than this counts as failed, so /readyz answers before the kubelet's own timeout. @defaultValue 2000 */
  readyTimeoutMs?: number;
}

export interface HealthServerOptions extends HealthRoutesOptions {
  port: number;
  /** @defaultValue '0.0.0.0' */
  host?: string;
}

export interface HealthServer {
  server: Server;
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

async function readinessWithin(check: ReadinessCheck, timeoutMs: number): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Readiness>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, problems: [`the readiness check did not answer within ${timeoutMs} ms`] }), timeoutMs);
  });
  try {
    return await Promise.race([check().catch((err: unknown) => ({ ok: false, problems: [`readiness check failed: ${messageOf(err)}`] })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Routes GET /healthz, /readyz and /metrics and returns true; returns false for any other request
 * so it can sit in front of another handler (the Slack receiver, the queue board) on the same port.
 */
export function createHealthHandler(options: HealthRoutesOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const serveMetrics = options.metrics ? metricsHandler(options.metrics) : undefined;
  const readyTimeoutMs = options.readyTimeoutMs ?? 2000;
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics' && serveMetrics) {
      serveMetrics(req, res);
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === '/healthz') {
      // Liveness only: a restart cannot fix Redis being down, so dependencies are /readyz's job.
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return true;
    }
    if (path !== '/readyz') return false;
    void readinessWithin(options.checks.ready, readyTimeoutMs).then((r) => {
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(r)}\n`);
    });
    return true;
  };
}

/** A small HTTP server with only /healthz, /readyz and /metrics, for processes without the Slack receiver (the worker). */
export async function createHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const handle = createHealthHandler(options);
  const server = createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => { server.off('error', reject); resolve(); });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

/** The part of an ioredis client readiness needs. */
export interface Pingable {
  ping(): Promise<string>;
}

async function redisProblem(redis: Pingable, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const reply = await Promise.race([redis.ping(), new Promise<never>((_r, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    })]);
    return reply === 'PONG' ? undefined : `Redis answered PING with ${JSON.stringify(reply)}: check REDIS_URL points at a Redis server`;
  } catch (err) {
    return `Redis is not reachable (${messageOf(err)}): check REDIS_URL and that Redis runs`;
  } finally {
    clearTimeout(timer);
  }
}

/** Ready when Redis answers PING. */
export function redisReadiness(redis: Pingable, timeoutMs = 1000): ReadinessCheck {
  return async () => {
    const down = await redisProblem(redis, timeoutMs);
    return down ? { ok: false, problems: [down] } : { ok: true, problems: [] };
  };
}

/**
 * The bot is ready when Redis answers and some worker consumes the triage queue: without one every
 * command would sit queued until its deadline. A site without a probe worker is only a warning, so
 * one idle network does not take the bot away from every other site.
 */
export function botReadiness(redis: Redis, prefix: string, sites: string[], timeoutMs = 1000): { check: ReadinessCheck; close(): Promise<void> } {
  const names = [triageQueueName, ...sites.map(probeQueueName)];
  const queues = names.map((name) => {
    const q = new Queue(name, { connection: redis, prefix });
    // A Redis outage is what the check itself reports; the queue's own error event adds nothing.
    q.on('error', () => undefined);
    return q;
  });
  return {
    check: async () => {
      const down = await redisProblem(redis, timeoutMs);
      if (down) return { ok: false, problems: [down] };
      let counts: number[];
      try {
        counts = await Promise.all(queues.map(async (q) => (await q.getWorkers()).length));
      } catch (err) {
        return { ok: true, problems: [], warnings: [`could not list workers: ${messageOf(err)}`] };
      }
      const workers = Object.fromEntries(names.map((n, i) => [n, counts[i] ?? 0]));
      const problems: string[] = [];
      if ((counts[0] ?? 0) === 0) problems.push(`no worker serves ${triageQueueName}: start \`why-blocked worker\``);
      const warnings: string[] = [];
      const idle = sites.filter((_s, i) => (counts[i + 1] ?? 0) === 0);
      for (const site of idle) warnings.push(`no worker serves ${probeQueueName(site)}: start \`why-blocked worker --site ${site}\``);
      return { ok: problems.length === 0, problems, warnings, detail: { workers, ...(idle.length ? { sitesWithoutWorker: idle } : {}) } };
    },
    close: async () => { await Promise.all(queues.map((q) => q.close())); },
  };
}

/** A worker process is ready when Redis answers and every one of its BullMQ workers is running. */
export function workerReadiness(redis: Pingable, workers: Array<{ name: string; isRunning(): boolean }>, timeoutMs = 1000): ReadinessCheck {
  return async () => {
    const down = await redisProblem(redis, timeoutMs);
    const queues = workers.map((w) => w.name);
    if (down) return { ok: false, problems: [down], detail: { queues } };
    const stopped = workers.filter((w) => !w.isRunning()).map((w) => w.name);
    const problems = stopped.map((n) => `the worker for ${n} is not running: check the log for worker errors, then restart the process`);
    if (workers.length === 0) problems.push('no BullMQ worker is registered in this process: start it with --site NAME');
    return { ok: problems.length === 0, problems, detail: { queues, ...(stopped.length ? { stopped } : {}) } };
  };
}
