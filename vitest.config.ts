import { defineConfig } from 'vitest/config';

// Lab and Redis suites share kernel and server state, so files run one at a time;
// tests inside a file stay sequential as well.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
