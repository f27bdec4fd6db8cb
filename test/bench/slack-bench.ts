// npm run bench:slack: slash-command ack latency of the bot (real Bolt + real Redis/BullMQ
// producer, in its own process) at a fixed request rate on loopback; then (root only) the seed lab's
// slash command → verdict latency with real workers and probes (slack-bench-seed.ts). Not a test: it prints numbers.
//   BENCH_RPS (default 50), BENCH_SECONDS (default 20), REDIS_URL (default redis://127.0.0.1:6379)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FakeSlackServer } from '../fake-slack/fake-slack-server.ts';
import { runSeedBench } from './slack-bench-seed.ts';
import { commandBody, postSigned } from '../slack/helpers/signed-request.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../slack/helpers/redis-test-prefix.ts';

const rps = Number(process.env.BENCH_RPS ?? 50);
const seconds = Number(process.env.BENCH_SECONDS ?? 20);
const secret = 'bench-signing-secret-0123456789';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function main(): Promise<void> {
  const fake = new FakeSlackServer();
  await fake.start();
  const prefix = uniquePrefix('bench');
  // BENCH_BOT_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the bot process.
  const nodeArgs = (process.env.BENCH_BOT_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', fileURLToPath(new URL('./slack-bench-bot.ts', import.meta.url))], {
    env: { ...process.env, BENCH_SECRET: secret, BENCH_API_URL: fake.apiUrl, BENCH_PREFIX: prefix, REDIS_URL: testRedisUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; const m = /PORT (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
    child.on('exit', (code) => reject(new Error(`bot exited early (${code})`)));
  });
  const url = `http://127.0.0.1:${port}/slack/events`;
  // Warm-up (JIT, lazy module loads, connection pools); not measured.
  for (let i = 0; i < 20; i += 1) {
    const res = await postSigned(url, secret, commandBody({ text: `web02 ${1000 + i}`, responseUrl: fake.responseUrl(`w${i}`), triggerId: `warm-${i}` }));
    await res.text();
  }
  await new Promise((r) => setTimeout(r, 1000));
  const total = rps * seconds;
  const latenciesMs: number[] = [];
  let failures = 0;
  const inFlight: Promise<void>[] = [];
  const bySecond: number[][] = Array.from({ length: seconds }, () => []);
  console.log(`sending ${total} signed /why-blocked commands at ${rps}/s for ${seconds} s…`);
  const started = performance.now();
  for (let i = 0; i < total; i += 1) {
    const wait = started + (i * 1000) / rps - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // Distinct ports: every request takes the full path (dedup checks, postMessage, flow.add).
    const body = commandBody({ text: `web01 ${1000 + i}`, responseUrl: fake.responseUrl(`b${i}`), triggerId: `bench-${i}` });
    const t0 = performance.now();
    inFlight.push(postSigned(url, secret, body).then(async (res) => {
      await res.text();
      if (res.status === 200) { latenciesMs.push(performance.now() - t0); bySecond[Math.floor(i / rps)]?.push(performance.now() - t0); } else failures += 1;
    }, () => { failures += 1; }));
  }
  await Promise.all(inFlight);
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const fmt = (n: number): string => `${n.toFixed(1)} ms`;
  console.log(`acks: ${sorted.length}/${total} ok, ${failures} failed`);
  console.log(`ack latency p50 ${fmt(percentile(sorted, 50))}  p99 ${fmt(percentile(sorted, 99))}  max ${fmt(sorted.at(-1) ?? NaN)}`);
  console.log(`per second p50/p99: ${bySecond.map((l) => { const x = [...l].sort((a, b) => a - b); return `${percentile(x, 50).toFixed(0)}/${percentile(x, 99).toFixed(0)}`; }).join(' ')}`);
  await new Promise((r) => setTimeout(r, 1000));
  console.log(`live messages posted: ${fake.callsTo('chat.postMessage').length}`);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await fake.stop();
  await deletePrefix(prefix);
  const ackLine = `ack latency at ${rps} req/s for ${seconds} s: p50 ${fmt(percentile(sorted, 50))}  p99 ${fmt(percentile(sorted, 99))} (target p99 ≤ 50 ms)`;

  // Phase 2: the real product on the seed lab (root only; BENCH_SEED=0 skips it).
  if (process.env.BENCH_SEED === '0' || process.getuid?.() !== 0) {
    console.log(`\n${ackLine}\nseed-lab verdict phase skipped (${process.env.BENCH_SEED === '0' ? 'BENCH_SEED=0' : 'needs root for the lab'})`);
    return;
  }
  console.log('\nphase 2: seed lab, `/why-blocked server 23 from client` → verdict posted…');
  const seed = await runSeedBench();
  console.log(`\n${ackLine}`);
  console.log(`seed-lab slash command → verdict posted (warm, ${seed.runs} runs): p50 ${seed.p50Ms.toFixed(0)} ms  p90 ${seed.p90Ms.toFixed(0)} ms  max ${seed.maxMs.toFixed(0)} ms (target p50 ≤ 1500 ms)`);
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1; });
