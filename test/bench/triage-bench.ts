/**
 * Triage benchmark (not a test): builds lab scenarios and times `triageHost` end to end, cold (a
 * new SshPool per run, so every SSH handshake is paid) and warm (one pool reused). Also counts SSH
 * connections opened per host per triage, from the pool's own "ssh connection ready" log lines.
 * Run as root: npm run bench:triage [-- runs]   (default 20 runs per row)
 */
import { Writable } from 'node:stream';
import { loadInventory } from '../../src/config/load-inventory.ts';
import { resolveHost } from '../../src/config/resolve-host.ts';
import { startLab, type Lab } from '../../src/lab/index.ts';
import { createLogger, silentLogger, type Logger } from '../../src/log/create-logger.ts';
import { triageHost } from '../../src/probes/triage-host.ts';
import { SshPool } from '../../src/remote/ssh-pool.ts';

const RUNS = Number(process.argv[2] ?? 20);
const CONNECT_TIMEOUT_MS = 2000;

interface Row { scenario: string; from: string; mode: 'cold' | 'warm'; cause: string; p50: number; p95: number; max: number; sshPerHost: number }

/** Opens counted per host name: the pool logs "ssh connection ready" once per handshake. */
function countingLogger(): { log: Logger; take: () => Map<string, number> } {
  let counts = new Map<string, number>();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.includes('ssh connection ready')) continue;
        const host = (JSON.parse(line) as { host?: string }).host ?? '?';
        counts.set(host, (counts.get(host) ?? 0) + 1);
      }
      done();
    },
  });
  const log = createLogger({ level: 'debug', destination: sink });
  return { log, take: () => { const c = counts; counts = new Map(); return c; } };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function bench(lab: Lab, scenario: string, from: string | undefined, mode: 'cold' | 'warm'): Promise<Row> {
  const inventory = loadInventory(lab.inventoryFile);
  const counter = countingLogger();
  const newPool = (): SshPool => new SshPool({ logger: counter.log, resolveJump: (n) => resolveHost(inventory, n) });
  const shared = mode === 'warm' ? newPool() : undefined;
  const durations: number[] = [];
  const causes = new Set<string>();
  let sshPerHost = 0;
  // Warm: one untimed triage first, so the connections exist before the first timed run.
  if (shared) await triageHost({ target: 'server', port: 23, ...(from ? { from } : {}) }, { inventory, pool: shared, log: silentLogger(), budgetMs: 10_000, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  counter.take();
  for (let i = 0; i < RUNS; i++) {
    const pool = shared ?? newPool();
    const started = performance.now();
    const report = await triageHost({ target: 'server', port: 23, ...(from ? { from } : {}) }, { inventory, pool, log: silentLogger(), budgetMs: 10_000, connectTimeoutMs: CONNECT_TIMEOUT_MS });
    durations.push(performance.now() - started);
    causes.add(report.cause);
    if (!shared) await pool.close();
    sshPerHost = Math.max(sshPerHost, ...counter.take().values(), 0);
  }
  await shared?.close();
  const sorted = [...durations].sort((a, b) => a - b);
  return { scenario, from: from ?? 'worker', mode, cause: [...causes].join('/'), p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted.at(-1)!, sshPerHost };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the triage bench builds network namespaces: run it as root');
  const rows: Row[] = [];
  const plan: { scenario: string; froms: (string | undefined)[]; modes: ('cold' | 'warm')[] }[] = [
    { scenario: 'seed-telnet', froms: [undefined, 'client'], modes: ['cold', 'warm'] },
    { scenario: 'drop-rule', froms: [undefined, 'client'], modes: ['warm'] },
  ];
  for (const p of plan) {
    const lab = await startLab(p.scenario, { log: silentLogger() });
    try {
      for (const from of p.froms) {
        for (const mode of p.modes) {
          const row = await bench(lab, p.scenario, from, mode);
          rows.push(row);
          process.stderr.write(`${row.scenario} from ${row.from} ${row.mode}: p50 ${Math.round(row.p50)} ms\n`);
        }
      }
    } finally {
      await lab.stop();
    }
  }
  const ms = (n: number): string => `${(n / 1000).toFixed(2)} s`;
  console.log(`\nTriage of \`server 23\`, ${RUNS} runs per row, connect timeout ${CONNECT_TIMEOUT_MS / 1000} s (${new Date().toISOString().slice(0, 10)}):\n`);
  console.log('| scenario | vantage | SSH | cause | p50 | p95 | max | SSH connections per host per triage |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.scenario} | ${r.from} | ${r.mode} | ${r.cause} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.max)} | ${r.mode === 'warm' ? `${r.sshPerHost} (reused)` : r.sshPerHost} |`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
