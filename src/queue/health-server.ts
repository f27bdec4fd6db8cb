import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { probeQueueName, triageQueueName } from './names.ts';

export interface Readiness {
  ok: boolean;
  /** What is missing, in words an operator can act on. */
  problems: string[];
  detail?: Record<string, unknown>;
}

export type ReadinessCheck = () => Promise<Readiness>;

/** Serves GET /healthz (the process is alive) and /readyz (it can do its work); returns false for other paths. */
export async function handleHealthRequest(req: IncomingMessage, res: ServerResponse, readiness: ReadinessCheck): Promise<boolean> {
  if (req.method !== 'GET') return false;
  const path = (req.url ?? '').split('?')[0];
  if (path === '/healthz') { res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n'); return true; }
  if (path !== '/readyz') return false;
  let r: Readiness;
  try {
    r = await readiness();
  } catch (err) {
    r = { ok: false, problems: [`readiness check failed: ${err instanceof Error ? err.message : String(err)}`] };
  }
  res.writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(r)}\n`);
  return true;
}

export interface HealthServer {
  port(): number;
  close(): Promise<void>;
}

/** A small HTTP server for processes without the Slack receiver (the worker), so k8s can probe them. */
export async function startHealthServer(port: number, host: string, readiness: ReadinessCheck): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    handleHealthRequest(req, res, readiness).then((handled) => { if (!handled) res.writeHead(404).end(); }, () => res.writeHead(500).end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  return {
    port: () => (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

async function redisProblem(redis: Redis, timeoutMs: number): Promise<string | undefined> {
  try {
    await Promise.race([redis.ping(), new Promise((_r, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref())]);
    return undefined;
  } catch (err) {
    return `Redis is not reachable (${err instanceof Error ? err.message : String(err)}): check REDIS_URL and that Redis runs`;
  }
}

/**
 * The bot is ready when Redis answers and some worker serves the triage queue and at least one
 * probe queue. A site without a worker is reported but does not make the bot unready: the other
 * sites still work, and its checks time out with a message that says so.
 */
export function botReadiness(redis: Redis, prefix: string, sites: string[], timeoutMs = 1000): { check: ReadinessCheck; close(): Promise<void> } {
  const names = [triageQueueName, ...sites.map(probeQueueName)];
  const queues = names.map((name) => new Queue(name, { connection: redis, prefix }));
  return {
    check: async () => {
      const down = await redisProblem(redis, timeoutMs);
      if (down) return { ok: false, problems: [down] };
      const counts = await Promise.all(queues.map(async (q) => (await q.getWorkers()).length));
      const workers = Object.fromEntries(names.map((n, i) => [n, counts[i] ?? 0]));
      const problems: string[] = [];
      if ((counts[0] ?? 0) === 0) problems.push(`no worker serves ${triageQueueName}: start \`why-blocked worker\``);
      const probeCounts = counts.slice(1);
      if (probeCounts.length > 0 && probeCounts.every((c) => c === 0)) problems.push('no worker serves any probe queue: start `why-blocked worker --site NAME`');
      const idle = sites.filter((_s, i) => (probeCounts[i] ?? 0) === 0);
      return { ok: problems.length === 0, problems, detail: { workers, ...(idle.length ? { sitesWithoutWorker: idle } : {}) } };
    },
    close: async () => { await Promise.all(queues.map((q) => q.close())); },
  };
}

/** A worker process is ready when Redis answers and every one of its BullMQ workers is running. */
export function workerReadiness(redis: Redis, workers: Worker[], timeoutMs = 1000): ReadinessCheck {
  return async () => {
    const down = await redisProblem(redis, timeoutMs);
    if (down) return { ok: false, problems: [down] };
    const stopped = workers.filter((w) => !w.isRunning()).map((w) => w.name);
    return {
      ok: stopped.length === 0,
      problems: stopped.map((n) => `the worker for ${n} is not running`),
      detail: { queues: workers.map((w) => w.name) },
    };
  };
}
