import { describe, expect, it } from 'vitest';
import { Semaphore, type Release } from '../../src/remote/semaphore.ts';

/** Acquires and records the order in which grants arrive. */
function track(sem: Semaphore, order: string[], name: string, options: { urgent?: boolean; signal?: AbortSignal } = {}): Promise<Release> {
  return sem.acquire(options.signal, { urgent: options.urgent === true }).then((release) => { order.push(name); return release; });
}

describe('Semaphore', () => {
  it('never grants more than its limit and grants waiters first in, first out', async () => {
    const sem = new Semaphore(2);
    const order: string[] = [];
    const held = await Promise.all([track(sem, order, 'a'), track(sem, order, 'b')]);
    const waiting = [track(sem, order, 'c'), track(sem, order, 'd')];
    expect(sem.inUse).toBe(2);
    expect(sem.waiting).toBe(2);
    held[0]!();
    held[1]!();
    for (const p of waiting) (await p)();
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    expect(sem.peak).toBe(2);
    expect(sem.inUse).toBe(0);
  });

  it('puts urgent waiters before ordinary ones, first in, first out among themselves', async () => {
    const sem = new Semaphore(1);
    const order: string[] = [];
    const first = await track(sem, order, 'holder');
    const waiting = [
      track(sem, order, 'dump-1'), track(sem, order, 'dump-2'),
      track(sem, order, 'capture', { urgent: true }), track(sem, order, 'counters', { urgent: true }),
      track(sem, order, 'dump-3'),
    ];
    // Each grantee frees its slot at once, so every grant is decided by the queue order alone.
    waiting.forEach((p) => { void p.then((release) => release()); });
    first();
    await Promise.all(waiting);
    expect(order).toEqual(['holder', 'capture', 'counters', 'dump-1', 'dump-2', 'dump-3']);
  });

  it('drops an aborted waiter without granting it, and releasing twice frees one slot only', async () => {
    const sem = new Semaphore(1);
    const release = await sem.acquire();
    const ac = new AbortController();
    const gaveUp = sem.acquire(ac.signal, { urgent: true });
    ac.abort(new Error('triage cancelled'));
    await expect(gaveUp).rejects.toThrow('triage cancelled');
    expect(sem.waiting).toBe(0);
    release();
    release();
    expect(sem.inUse).toBe(0);
    const again = await sem.acquire();
    expect(sem.inUse).toBe(1);
    again();
  });
});
