import type { Logger } from '../log/create-logger.ts';

export interface ShutdownOptions {
  log: Logger;
  /** Exit anyway after this long: worker.close() waits for active jobs without a limit. @defaultValue 30000 */
  deadlineMs?: number;
  signals?: NodeJS.Signals[];
  exit?: (code: number) => void;
}

/** Wires SIGTERM/SIGINT to `close` once; returns a function that removes the handlers. */
export function closeOnSignals(close: () => Promise<void>, options: ShutdownOptions): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let started = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (started) return;
    started = true;
    options.log.info({ signal }, 'shutting down: finishing active jobs');
    const deadline = setTimeout(() => {
      options.log.error({ deadlineMs: options.deadlineMs ?? 30_000 }, 'shutdown deadline passed; exiting with jobs still active');
      exit(1);
    }, options.deadlineMs ?? 30_000);
    deadline.unref();
    close().then(() => { clearTimeout(deadline); exit(0); }, (err: unknown) => {
      options.log.error({ err }, 'shutdown failed');
      exit(1);
    });
  };
  for (const s of signals) process.on(s, handler);
  return () => { for (const s of signals) process.off(s, handler); };
}
