/** Releases a slot; calling it twice is harmless, so `finally` blocks can always call it. */
export type Release = () => void;

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/**
 * A counting semaphore with FIFO waiters that can give up through an AbortSignal. Urgent waiters
 * go before every ordinary one (FIFO among themselves): a capture that a connect test waits on
 * must not queue behind a dozen rule dumps that nothing is waiting for.
 */
export class Semaphore {
  readonly limit: number;
  #inUse = 0;
  #peak = 0;
  #waiters: Array<{ grant: () => void; urgent: boolean }> = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`Semaphore limit must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  get inUse(): number { return this.#inUse; }
  get waiting(): number { return this.#waiters.length; }
  /** Highest `inUse` ever seen; lets tests and metrics prove the cap held. */
  get peak(): number { return this.#peak; }

  acquire(signal?: AbortSignal, options: { urgent?: boolean } = {}): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.#inUse < this.limit) return Promise.resolve(this.#take());
    return new Promise<Release>((resolve, reject) => {
      const urgent = options.urgent === true;
      const waiter = {
        urgent,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.#take());
        },
      };
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const firstOrdinary = urgent ? this.#waiters.findIndex((w) => !w.urgent) : -1;
      if (firstOrdinary === -1) this.#waiters.push(waiter);
      else this.#waiters.splice(firstOrdinary, 0, waiter);
    });
  }

  #take(): Release {
    this.#inUse += 1;
    this.#peak = Math.max(this.#peak, this.#inUse);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inUse -= 1;
      const next = this.#waiters.shift();
      if (next) next.grant();
    };
  }
}

export { abortError };
