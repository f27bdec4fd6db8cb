export interface ReadyResult {
  ok: boolean;
  details?: Record<string, unknown>;
}

export type ReadyCheck = () => Promise<ReadyResult>;

/** Ready only when every named check is; the details say which one failed and why. */
export function combineChecks(checks: Record<string, ReadyCheck>): ReadyCheck {
  return async () => {
    const names = Object.keys(checks);
    const results = await Promise.all(names.map(async (name) => {
      try {
        return await checks[name]!();
      } catch (err) {
        return { ok: false, details: { error: err instanceof Error ? err.message : String(err) } };
      }
    }));
    const details = Object.fromEntries(names.map((name, i) => [name, results[i]]));
    return { ok: results.every((r) => r.ok), details };
  };
}

/** Redis reachable: one PING on the given client (ioredis fits). */
export function redisReadyCheck(redis: { ping(): Promise<string> }): ReadyCheck {
  return async () => {
    try {
      const reply = await redis.ping();
      return { ok: reply === 'PONG', details: { reply } };
    } catch (err) {
      return { ok: false, details: { error: err instanceof Error ? err.message : String(err) } };
    }
  };
}

/** Workers registered: every BullMQ Worker is running (not closed, not closing). */
export function workersReadyCheck(workers: () => Array<{ name: string; isRunning(): boolean }>): ReadyCheck {
  return async () => {
    const list = workers();
    const stopped = list.filter((w) => !w.isRunning()).map((w) => w.name);
    return { ok: list.length > 0 && stopped.length === 0, details: { workers: list.map((w) => w.name), stopped } };
  };
}
