import { describe, expect, it } from 'vitest';
import { createWorkLimiter } from '../../src/slack/work-limiter.ts';

describe('createWorkLimiter', () => {
  it('never runs more than `concurrency` tasks at once, runs them all, and passes results and errors through', async () => {
    const limiter = createWorkLimiter(2);
    let running = 0;
    let peak = 0;
    const releases: (() => void)[] = [];
    const task = (i: number) => limiter.run(async () => {
      running += 1; peak = Math.max(peak, running);
      await new Promise<void>((r) => releases.push(r));
      running -= 1;
      if (i === 3) throw new Error('task 3 failed');
      return i;
    });
    const results = [0, 1, 2, 3, 4].map((i) => task(i).catch((e: Error) => e.message));
    await new Promise((r) => setTimeout(r, 10));
    expect(limiter.size()).toBe(5);
    expect(releases).toHaveLength(2);
    while (releases.length > 0 || limiter.size() > 0) {
      releases.shift()?.();
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await Promise.all(results)).toEqual([0, 1, 2, 'task 3 failed', 4]);
    expect(peak).toBe(2);
  });
});
