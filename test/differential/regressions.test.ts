import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeLab } from '../helpers/lab-gate.ts';
import { formatDisagreement } from './harness/format-disagreement.ts';
import { KernelOracle, type Backend } from './harness/kernel-oracle.ts';
import { readRegressions } from './harness/regression-file.ts';
import { runDifferentialCase } from './harness/run-differential-case.ts';

// Every minimized disagreement found so far is replayed against the kernel and the analyzer.
// The kernel is re-measured each time: the recorded answer is only there for humans reading the file.
const regressions = readRegressions(fileURLToPath(new URL('./regressions/', import.meta.url)));

describeLab('recorded kernel-vs-analyzer disagreements', () => {
  let oracle: KernelOracle;
  let backends: Backend[] = [];

  beforeAll(async () => {
    backends = await KernelOracle.availableBackends();
    oracle = await KernelOracle.start(`r${process.pid}`);
  });
  afterAll(async () => {
    await oracle?.stop();
  });

  if (regressions.length === 0) it.skip('no recorded disagreements yet', () => undefined);

  for (const { file, regression } of regressions) {
    it(`${file}: analyzer agrees with the kernel`, async (ctx) => {
      if (!backends.includes(regression.backend)) ctx.skip();
      const ipsets = regression.ipsets === undefined ? undefined : { text: regression.ipsets, withhold: false };
      const [outcome] = await runDifferentialCase(oracle, regression.backend, regression.rulesetText, [regression.probe], regression.family ?? 'ipv4', ipsets);
      expect(outcome).toBeDefined();
      if (outcome === undefined) return;
      expect(outcome.agree ? '' : formatDisagreement(outcome, `${file}: ${regression.description}`)).toBe('');
    });
  }
});
