import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeLab } from '../helpers/lab-gate.ts';
import { FIXTURE_RULESETS, LEGACY_UNDER_FIREWALLD } from './harness/fixture-rulesets.ts';
import { formatDisagreement } from './harness/format-disagreement.ts';
import { generatePackets } from './harness/generate-packets.ts';
import { generateRuleset } from './harness/generate-ruleset.ts';
import { KernelOracle, type Backend } from './harness/kernel-oracle.ts';
import { minimizeDisagreement, renderFor } from './harness/minimize-disagreement.ts';
import { renderNft } from './harness/render-nft.ts';
import { writeRegression } from './harness/regression-file.ts';
import { runDifferentialCase, runDifferentialParts, type CaseOutcome } from './harness/run-differential-case.ts';

/*
 * The analyzer against the real kernel: same ruleset text, same packet, and the answer must be the
 * same (verdict, deciding rule or policy, and what every base chain on the path did).
 *
 *   WHY_BLOCKED_DIFF_CASES   generated rulesets per backend (default 24: about 2-3 min on 2 cores)
 *   WHY_BLOCKED_DIFF_PACKETS packets per ruleset (default 16)
 *   WHY_BLOCKED_DIFF_SEED    first seed (default fixed, so CI is reproducible; vary it to explore)
 *   WHY_BLOCKED_DIFF_BACKENDS comma list to restrict backends (iptables-legacy,iptables-nft,nft)
 *   WHY_BLOCKED_DIFF_WRITE_REGRESSIONS=1  write minimized disagreements to test/differential/regressions/
 */
const CASES = Number(process.env.WHY_BLOCKED_DIFF_CASES ?? 24);
const PACKETS = Number(process.env.WHY_BLOCKED_DIFF_PACKETS ?? 16);
const BASE_SEED = Number(process.env.WHY_BLOCKED_DIFF_SEED ?? 20261124);
const WORKERS = 2;
const MAX_MINIMIZED = 3;
const REGRESSION_DIR = fileURLToPath(new URL('./regressions/', import.meta.url));

/** `mixed`: legacy iptables and native nft loaded at once (nft shifted by +5 so no two base chains tie). */
interface Failure { label: string; outcome: CaseOutcome; backend: Backend | 'mixed'; seed: number; family: 'ip' | 'inet' }

describeLab('analyzer agrees with the kernel (differential)', () => {
  const oracles: KernelOracle[] = [];
  let backends: Backend[] = [];

  beforeAll(async () => {
    const wanted = process.env.WHY_BLOCKED_DIFF_BACKENDS?.split(',').map((b) => b.trim());
    backends = (await KernelOracle.availableBackends()).filter((b) => wanted === undefined || wanted.includes(b));
    for (let w = 0; w < WORKERS; w++) oracles.push(await KernelOracle.start(`a${process.pid}${w}`));
  });
  afterAll(async () => {
    await Promise.all(oracles.map((o) => o.stop()));
  });

  for (const fixture of FIXTURE_RULESETS) {
    it(`fixture: ${fixture.name}`, async () => {
      const failures: string[] = [];
      for (const backend of fixture.backends.filter((b) => backends.includes(b))) {
        const outcomes = await runDifferentialCase(oracles[0] as KernelOracle, backend, fixture.text, fixture.probes);
        for (const o of outcomes) if (!o.agree) failures.push(formatDisagreement(o, `fixture ${fixture.name}`));
      }
      expect(failures.join('\n\n')).toBe('');
    }, 120_000);
  }

  it(`fixture: ${LEGACY_UNDER_FIREWALLD.name}`, async () => {
    const outcomes = await runDifferentialParts(oracles[0] as KernelOracle, LEGACY_UNDER_FIREWALLD.parts, LEGACY_UNDER_FIREWALLD.probes);
    expect(outcomes.filter((o) => !o.agree).map((o) => formatDisagreement(o, LEGACY_UNDER_FIREWALLD.name)).join('\n\n')).toBe('');
  }, 120_000);

  it(`${CASES} generated rulesets x ${PACKETS} packets per backend, from seed ${BASE_SEED}`, async () => {
    const failures: Failure[] = [];
    let compared = 0;
    const work = async (oracle: KernelOracle, worker: number): Promise<void> => {
      for (let i = worker; i < CASES; i += WORKERS) {
        const seed = BASE_SEED + i;
        for (const backend of backends) {
          const model = generateRuleset(seed, backend === 'nft' ? 'nft' : 'iptables');
          const family = seed % 3 === 0 ? 'inet' : 'ip';
          const text = renderFor(backend, model, family);
          if (text === undefined) throw new Error(`seed ${seed}: the nft dialect generated a rule nft cannot express`);
          const outcomes = await runDifferentialCase(oracle, backend, text, generatePackets(model, PACKETS, seed ^ 0x5bd1e995));
          compared += outcomes.length;
          for (const o of outcomes) if (!o.agree) failures.push({ label: `seed ${seed}`, outcome: o, backend, seed, family });
        }
        if (backends.includes('iptables-legacy') && backends.includes('nft')) {
          const iptModel = generateRuleset(seed, 'iptables');
          const nftModel = generateRuleset(seed + 7919, 'nft');
          const family = seed % 2 === 0 ? 'inet' : 'ip';
          const parts = [{ backend: 'iptables-legacy' as const, text: renderFor('iptables-legacy', iptModel, family) as string }, { backend: 'nft' as const, text: renderNft(nftModel, family, 5) as string }];
          const half = Math.floor(PACKETS / 2);
          const packets = [...generatePackets(iptModel, half, seed ^ 0x1234), ...generatePackets(nftModel, PACKETS - half, seed ^ 0x4321)];
          const outcomes = await runDifferentialParts(oracle, parts, packets);
          compared += outcomes.length;
          for (const o of outcomes) if (!o.agree) failures.push({ label: `seed ${seed} (legacy seed ${seed} + nft seed ${seed + 7919}, nft priorities +5)`, outcome: o, backend: 'mixed', seed, family });
        }
      }
    };
    await Promise.all(oracles.map((o, w) => work(o, w)));

    const report: string[] = [];
    const seen = new Set<string>();
    for (const failure of failures) {
      if (report.length >= 8) break;
      // One report per (seed, backend): a broken rule usually fails several packets.
      const key = `${failure.seed} ${failure.outcome.backend}`;
      if (seen.has(key)) continue;
      seen.add(key);
      report.push(formatDisagreement(failure.outcome, `${failure.label} (reproduce: WHY_BLOCKED_DIFF_SEED=${failure.seed} WHY_BLOCKED_DIFF_CASES=1)`));
    }
    let minimized = 0;
    const minimizedKeys = new Set<string>();
    for (const failure of failures) {
      if (minimized >= MAX_MINIMIZED) break;
      const key = `${failure.seed} ${failure.backend}`;
      if (failure.backend === 'mixed' || failure.outcome.kernel.verdict.startsWith('harness error') || minimizedKeys.has(key)) continue;
      minimizedKeys.add(key);
      const backend = failure.backend;
      const model = generateRuleset(failure.seed, backend === 'nft' ? 'nft' : 'iptables');
      const small = await minimizeDisagreement(oracles[0] as KernelOracle, backend, model, failure.family, { packet: failure.outcome.packet, state: failure.outcome.state });
      if (small === undefined) continue;
      minimized++;
      report.push(formatDisagreement(small.outcome, `minimized from seed ${failure.seed}`));
      if (process.env.WHY_BLOCKED_DIFF_WRITE_REGRESSIONS === '1') {
        const file = writeRegression(REGRESSION_DIR, {
          description: `minimized from generated seed ${failure.seed}`, seed: failure.seed, backend,
          rulesetText: small.outcome.text, probe: { packet: small.outcome.packet, state: small.outcome.state },
          kernel: small.outcome.kernel, analyzer: small.outcome.analyzer.comparable, analyzerRaw: small.outcome.analyzer.raw,
        });
        report.push(`   written to ${file}`);
      }
    }
    const summary = `${failures.length} of ${compared} packet comparisons disagree (backends: ${backends.join(', ')})`;
    const mixedRuns = backends.includes('iptables-legacy') && backends.includes('nft') ? 1 : 0;
    expect(compared).toBe(CASES * PACKETS * (backends.length + mixedRuns));
    expect(failures.length === 0 ? '' : `${summary}\n\n${report.join('\n\n')}`).toBe('');
  }, 900_000);
});
