import { Socket } from 'node:net';
import type { EvidenceItem } from '../triage/report-types.ts';
import type { ConnectData, VantageInfo } from '../triage/evidence-types.ts';
import { classifyErrno, describeOutcome } from './classify-connect-error.ts';
import { requireInt, requireIp, requirePort } from './probe-args.ts';

export interface WorkerConnectOptions {
  address: string;
  port: number;
  /** @defaultValue 3000 */
  connectTimeoutMs?: number;
  /** After connecting, how long to watch for the server closing first. @defaultValue 500 */
  holdMs?: number;
  signal?: AbortSignal;
}

/** What the socket did, before any interpretation; classification is the pure function below. */
export interface WorkerConnectResult {
  connected: boolean;
  errorCode?: string;
  errorMessage?: string;
  /** Local address the kernel picked: what the target sees as the client. */
  localAddress?: string;
  timeToOutcomeMs: number;
  afterConnect?: 'server-closed' | 'server-reset' | 'stayed-open' | 'sent-data';
}

/** The worker-vantage connect: node:net, so errno comes straight from the kernel. */
export function connectFromWorker(options: WorkerConnectOptions): Promise<WorkerConnectResult> {
  const address = requireIp(options.address, 'target address');
  const port = requirePort(options.port);
  const connectTimeoutMs = requireInt(options.connectTimeoutMs ?? 3000, 100, 300_000, 'connect timeout (ms)');
  const holdMs = requireInt(options.holdMs ?? 500, 0, 10_000, 'hold time (ms)');
  return new Promise((resolve) => {
    const socket = new Socket();
    const started = performance.now();
    let settled = false;
    let result: WorkerConnectResult | undefined;
    let holdTimer: NodeJS.Timeout | undefined;
    const elapsed = (): number => Math.round(performance.now() - started);
    const finish = (r: WorkerConnectResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(holdTimer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(r);
    };
    const onAbort = (): void => finish({ connected: false, errorCode: 'ECANCELED', errorMessage: 'aborted', timeToOutcomeMs: elapsed() });
    const connectTimer = setTimeout(() => finish({ connected: false, errorCode: 'ETIMEDOUT', errorMessage: 'no answer before the connect timeout', timeToOutcomeMs: connectTimeoutMs }), connectTimeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      clearTimeout(connectTimer);
      result = { connected: true, timeToOutcomeMs: elapsed(), ...(socket.localAddress ? { localAddress: socket.localAddress } : {}) };
      holdTimer = setTimeout(() => finish({ ...result!, afterConnect: 'stayed-open' }), holdMs);
    });
    socket.once('data', () => { if (result) finish({ ...result, afterConnect: 'sent-data' }); });
    socket.once('end', () => { if (result) finish({ ...result, afterConnect: 'server-closed' }); });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (result) finish({ ...result, afterConnect: err.code === 'ECONNRESET' ? 'server-reset' : 'server-closed' });
      else finish({ connected: false, errorCode: err.code ?? 'EIO', errorMessage: err.message, timeToOutcomeMs: elapsed() });
    });
    socket.connect({ host: address, port });
  });
}

export function workerConnectEvidence(r: WorkerConnectResult, ctx: { target: string; port: number; vantage: VantageInfo }): EvidenceItem {
  const vantage: VantageInfo = { ...ctx.vantage, ...(r.localAddress && !ctx.vantage.address ? { address: r.localAddress } : {}) };
  const data: ConnectData = r.connected
    ? {
      target: ctx.target, port: ctx.port, vantage, outcome: 'connected', timeToOutcomeMs: r.timeToOutcomeMs,
      ...(r.afterConnect ? { afterConnect: r.afterConnect, serverClosedAtOnce: r.afterConnect === 'server-closed' || r.afterConnect === 'server-reset' } : {}),
    }
    : { target: ctx.target, port: ctx.port, vantage, ...classifyErrno(r.errorCode ?? 'EIO'), timeToOutcomeMs: r.timeToOutcomeMs, ...(r.errorMessage ? { message: r.errorMessage } : {}) };
  let summary = `TCP connect to ${ctx.target}:${ctx.port} from the worker: ${describeOutcome(data.outcome, data.errno)} after ${r.timeToOutcomeMs} ms`;
  if (data.serverClosedAtOnce) summary += '; the server then closed the connection at once without sending anything';
  const raw = [r.connected ? `connect ok in ${r.timeToOutcomeMs} ms${r.afterConnect ? `, then ${r.afterConnect}` : ''}` : `connect: ${r.errorCode ?? ''} ${r.errorMessage ?? ''}`.trim()];
  return { probe: 'connect', ok: r.connected, summary, raw, durationMs: r.timeToOutcomeMs, data };
}
