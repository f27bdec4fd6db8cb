/**
 * Runs at most `concurrency` tasks at once and queues the rest. Post-ack work (authorization,
 * enqueue, postMessage) goes through it so a burst of commands cannot starve the event loop of
 * the cheap work Slack's 3 s deadline depends on: parsing the next request and acking it.
 */
export interface WorkLimiter {
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks queued or running. */
  size(): number;
}

export function createWorkLimiter(concurrency: number): WorkLimiter {
  let active = 0;
  const waiting: (() => void)[] = [];
  const next = (): void => {
    if (active >= concurrency) return;
    const start = waiting.shift();
    if (start) { active += 1; start(); }
  };
  return {
    run: <T>(task: () => Promise<T>) => new Promise<T>((resolve, reject) => {
      waiting.push(() => {
        task().then(resolve, reject).finally(() => { active -= 1; next(); });
      });
      next();
    }),
    size: () => active + waiting.length,
  };
}
