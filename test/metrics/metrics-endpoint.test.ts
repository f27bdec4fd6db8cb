import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createHealthServer, createMetrics, queueCountsFrom, type HealthServer, type ReadinessCheck } from '../../src/metrics/index.ts';
import { botReadiness, redisReadiness, workerReadiness } from '../../src/queue/health-server.ts';
import { triageQueueName } from '../../src/queue/names.ts';
import { closedLoopbackPort } from './closed-port.ts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const servers: HealthServer[] = [];

async function serve(ready: ReadinessCheck, metrics = createMetrics({ processMetrics: false }).registry): Promise<string> {
  const server = await createHealthServer({ port: 0, host: '127.0.0.1', checks: { ready }, metrics, readyTimeoutMs: 500 });
  servers.push(server);
  return `http://127.0.0.1:${server.port}`;
}

interface ReadyBody { ok: boolean; problems?: string[]; warnings?: string[]; detail?: Record<string, unknown> }

interface Sample { name: string; labels: Record<string, string>; value: number }

/** The Prometheus text format, one sample per line; label order is not significant. */
function parseExposition(text: string): Sample[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((line) => {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    return { name: m[1]!, labels, value: Number(m[3]) };
  });
}

const alwaysReady: ReadinessCheck = async () => ({ ok: true, problems: [] });

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('health endpoints', () => {
  it('/healthz answers 200 even when not ready', async () => {
    const base = await serve(async () => ({ ok: false, problems: ['redis down'] }));
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  });

  it('/readyz is 200 with the check\'s body when it passes', async () => {
    const base = await serve(async () => ({ ok: true, problems: [], detail: { queues: ['q'] } }));
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, problems: [], detail: { queues: ['q'] } });
  });

  it.each([
    ['reports not ok', (async () => ({ ok: false, problems: ['Redis is not reachable (ECONNREFUSED)'] })) as ReadinessCheck, 'ECONNREFUSED'],
    ['throws', (async () => { throw new Error('boom'); }) as ReadinessCheck, 'boom'],
    ['hangs', (() => new Promise(() => {})) as ReadinessCheck, 'did not answer within 500 ms'],
  ])('/readyz is 503 when the check %s', async (_name, check, text) => {
    const base = await serve(check);
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(JSON.parse(body).ok).toBe(false);
    expect(body).toContain(text);
  });

  it('answers 404 for other paths and 405 for POST /metrics', async () => {
    const base = await serve(alwaysReady);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});

describe('readiness against a real Redis', () => {
  let redis: Redis;
  let dead: Redis;
  beforeAll(async () => {
    redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    // Nothing listens on this loopback port: the connection is refused at once.
    dead = new Redis(`redis://127.0.0.1:${await closedLoopbackPort()}`, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on('error', () => undefined);
  });
  afterAll(async () => { redis.disconnect(); dead.disconnect(); });

  it('a worker is ready with a live Redis and running workers; 503 names the stopped worker', async () => {
    let running = true;
    const workers = [{ name: 'why-blocked.probes.dc1', isRunning: () => running }];
    const base = await serve(workerReadiness(redis, workers));
    const ok = await fetch(`${base}/readyz`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as ReadyBody).detail?.queues).toEqual(['why-blocked.probes.dc1']);
    running = false;
    const bad = await fetch(`${base}/readyz`);
    expect(bad.status).toBe(503);
    expect(((await bad.json()) as ReadyBody).problems?.join(' ')).toContain('the worker for why-blocked.probes.dc1 is not running');
  });

  it('a worker process without any BullMQ worker is not ready', async () => {
    const res = await fetch(`${await serve(workerReadiness(redis, []))}/readyz`);
    expect(res.status).toBe(503);
  });

  it.each([
    ['Redis alone', () => redisReadiness(dead)],
    ['a worker', () => workerReadiness(dead, [{ name: 'why-blocked.triage', isRunning: () => true }])],
  ])('%s is not ready when Redis refuses connections, and says what to check', async (_n, check) => {
    const res = await fetch(`${await serve(check())}/readyz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as ReadyBody).problems?.join(' ')).toMatch(/Redis is not reachable .*check REDIS_URL/);
  });

  it('the bot is not ready without a triage worker, ready with one (an idle site is a warning), and 503 when Redis is down', async () => {
    const prefix = `wbtest-ready-${process.pid}`;
    const live = botReadiness(redis, prefix, ['dc1']);
    const down = botReadiness(dead, prefix, ['dc1']);
    try {
      const none = await fetch(`${await serve(live.check)}/readyz`);
      expect(none.status).toBe(503);
      expect(((await none.json()) as ReadyBody).problems?.join(' ')).toContain('no worker serves why-blocked.triage');
      const running = new Worker(triageQueueName, async () => undefined, { connection: { url: redisUrl, maxRetriesPerRequest: null }, prefix });
      try {
        await running.waitUntilReady();
        const ok = await fetch(`${await serve(live.check)}/readyz`);
        expect(ok.status).toBe(200);
        const body = (await ok.json()) as ReadyBody;
        expect(body.warnings).toEqual(expect.arrayContaining([expect.stringContaining('no worker serves why-blocked.probes.dc1')]));
        expect(body.detail?.sitesWithoutWorker).toEqual(['dc1']);
      } finally {
        await running.close();
      }
      const bad = await fetch(`${await serve(down.check)}/readyz`);
      expect(bad.status).toBe(503);
    } finally {
      await live.close();
      await down.close();
    }
  });
});

describe('/metrics', () => {
  const queueName = `wb-metrics-test-${process.pid}`;
  let queue: Queue;
  beforeAll(async () => {
    queue = new Queue(queueName, { connection: { url: redisUrl } });
    await queue.addBulk([{ name: 'probe', data: {} }, { name: 'probe', data: {} }, { name: 'probe', data: {}, opts: { delay: 60_000 } }]);
  });
  afterAll(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
  });

  it('exposes every product metric with its labels after observations', async () => {
    const metrics = createMetrics({
      getQueueCounts: queueCountsFrom([queue]),
      poolStats: () => ({ openConnections: 3, channelsInUse: 5, channelsWaiting: 2 }),
      defaultLabels: { role: 'worker', site: 'dc1' },
    });
    metrics.observeTriage({ cause: 'firewall-shadowed-accept', durationMs: 1200 });
    metrics.observeTriage({ cause: 'none', durationMs: 10_000, outcome: 'timed_out' });
    metrics.observeProbe({ probe: 'capture', durationMs: 800, ok: true });
    metrics.observeProbe({ probe: 'firewall', durationMs: 50, ok: false, code: 'why_blocked_ssh_auth' });
    metrics.observeApply({ kind: 'apply', outcome: 'rolled_back' });
    const base = await serve(alwaysReady, metrics.registry);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const dl = { role: 'worker', site: 'dc1' };
    const expected: Array<[string, Record<string, string>, number | undefined]> = [
      ['why_blocked_triages_total', { cause: 'firewall-shadowed-accept', outcome: 'completed' }, 1],
      ['why_blocked_triages_total', { cause: 'none', outcome: 'timed_out' }, 1],
      ['why_blocked_triage_duration_seconds_bucket', { le: '1.5', outcome: 'completed' }, 1],
      ['why_blocked_triage_duration_seconds_bucket', { le: '1', outcome: 'completed' }, 0],
      ['why_blocked_probe_duration_seconds_count', { probe: 'capture' }, 1],
      ['why_blocked_probe_failures_total', { probe: 'firewall', code: 'why_blocked_ssh_auth' }, 1],
      ['why_blocked_apply_outcomes_total', { kind: 'apply', outcome: 'rolled_back' }, 1],
      ['why_blocked_queue_jobs', { queue: queueName, state: 'waiting' }, 2],
      ['why_blocked_queue_jobs', { queue: queueName, state: 'delayed' }, 1],
      ['why_blocked_queue_jobs', { queue: queueName, state: 'active' }, 0],
      ['why_blocked_queue_counts_up', {}, 1],
      ['why_blocked_ssh_connections_open', {}, 3],
      ['why_blocked_ssh_channels_in_use', {}, 5],
      ['why_blocked_ssh_channels_waiting', {}, 2],
      ['process_cpu_user_seconds_total', {}, undefined],
      ['nodejs_eventloop_lag_seconds', {}, undefined],
    ];
    const samples = parseExposition(text);
    for (const [name, labels, value] of expected) {
      const found = samples.find((s) => s.name === name && Object.entries({ ...dl, ...labels }).every(([k, v]) => s.labels[k] === v));
      expect(found, `${name} ${JSON.stringify(labels)}`).toBeDefined();
      if (value !== undefined) expect(found!.value, `${name} ${JSON.stringify(labels)}`).toBe(value);
    }
    expect(text).not.toContain('probe_failures_total{probe="capture"');
  });

  it('keeps serving other metrics when the queue source fails, with counts_up 0', async () => {
    const metrics = createMetrics({ processMetrics: false, getQueueCounts: () => Promise.reject(new Error('redis down')) });
    metrics.observeApply({ kind: 'persist', outcome: 'persisted' });
    const base = await serve(alwaysReady, metrics.registry);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('why_blocked_queue_counts_up 0');
    expect(text).toContain('why_blocked_apply_outcomes_total{kind="persist",outcome="persisted"} 1');
    expect(text).not.toMatch(/^why_blocked_queue_jobs\{/m);
  });

  it('maps a TriageReport and EvidenceItems onto the same series as the explicit calls', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.observeReport({ cause: 'not-listening', durationMs: 700 });
    metrics.observeEvidence({ probe: 'listener', durationMs: 30 });
    metrics.observeEvidence({ probe: 'capture', durationMs: 5000, error: { code: 'why_blocked_command_timeout' } });
    const samples = parseExposition(await metrics.registry.metrics());
    const value = (name: string, labels: Record<string, string>) => samples.find((s) => s.name === name
      && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('why_blocked_triages_total', { cause: 'not-listening', outcome: 'completed' })).toBe(1);
    expect(value('why_blocked_probe_duration_seconds_count', { probe: 'listener' })).toBe(1);
    expect(value('why_blocked_probe_failures_total', { probe: 'listener' })).toBeUndefined();
    expect(value('why_blocked_probe_failures_total', { probe: 'capture', code: 'why_blocked_command_timeout' })).toBe(1);
  });

  it.each([
    ['a label with spaces', 'rm -rf /', 'other'],
    ['an empty probe name', '', 'unknown'],
    ['a very long value', 'x'.repeat(200), 'other'],
  ])('collapses %s into a bounded label value', async (_name, probe, shown) => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.observeProbe({ probe, durationMs: 1, ok: false });
    const text = await metrics.registry.metrics();
    expect(text).toContain(`why_blocked_probe_failures_total{probe="${shown}",code="error"} 1`);
  });
});
