import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { metricsHandler } from './metrics-handler.ts';
import type { ReadyCheck, ReadyResult } from './ready-checks.ts';

export interface HealthOptions {
  checks: { ready: ReadyCheck };
  /** Serves /metrics from this registry when given. */
  metrics?: Registry;
  /** A readiness check slower than this counts as failed, so the probe answers before its own timeout. @defaultValue 2000 */
  readyTimeoutMs?: number;
}

export interface HealthServerOptions extends HealthOptions {
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

async function readiness(check: ReadyCheck, timeoutMs: number): Promise<ReadyResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ReadyResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, details: { error: `readiness check did not answer within ${timeoutMs} ms` } }), timeoutMs);
  });
  try {
    return await Promise.race([check().catch((err: unknown) => ({ ok: false, details: { error: err instanceof Error ? err.message : String(err) } })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Routes /healthz, /readyz and /metrics; returns false for any other path so it can sit
 * in front of another handler (e.g. the Bolt HTTP receiver) on the same port.
 */
export function createHealthHandler(options: HealthOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const serveMetrics = options.metrics ? metricsHandler(options.metrics) : undefined;
  const readyTimeoutMs = options.readyTimeoutMs ?? 2000;
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      // Liveness only: a restart cannot fix Redis being down, so dependencies are /readyz's job.
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return true;
    }
    if (path === '/readyz') {
      void readiness(options.checks.ready, readyTimeoutMs).then((result) => {
        res.writeHead(result.ok ? 200 : 503, { 'content-type': 'application/json' })
          .end(`${JSON.stringify({ ok: result.ok, details: result.details ?? {} })}\n`);
      });
      return true;
    }
    if (path === '/metrics' && serveMetrics) {
      serveMetrics(req, res);
      return true;
    }
    return false;
  };
}

/** A small HTTP server with only the health and metrics endpoints, for processes without the Slack receiver. */
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
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
