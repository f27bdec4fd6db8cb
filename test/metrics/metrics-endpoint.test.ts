import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  combineChecks, createHealthServer, createMetrics, queueCountsFrom, redisReadyCheck, workersReadyCheck,
  type HealthServer, type ReadyCheck,
} from '../../src/metrics/index.ts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const servers: HealthServer[] = [];

async function serve(ready: ReadyCheck, metrics = createMetrics({ processMetrics: false }).registry): Promise<string> {
  const server = await createHealthServer({ port: 0, host: '127.0.0.1', checks: { ready }, metrics, readyTimeoutMs: 500 });
  servers.push(server);
  return `http://127.0.0.1:${server.port}`;
}

interface CombinedBody { ok: boolean; details: Record<string, { ok: boolean; details: Record<string, unknown> }> }

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

const alwaysReady: ReadyCheck = async () => ({ ok: true, details: {} });

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('health endpoints', () => {
  it('/healthz answers 200 even when not ready', async () => {
    const base = await serve(async () => ({ ok: false, details: { redis: 'down' } }));
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  });

  it('/readyz is 200 with details when the check passes', async () => {
    const base = await serve(async () => ({ ok: true, details: { redis: 'PONG' } }));
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, details: { redis: 'PONG' } });
  });

  it.each([
    ['reports not ok', (async () => ({ ok: false, details: { redis: 'ECONNREFUSED' } })) as ReadyCheck, 'ECONNREFUSED'],
    ['throws', (async () => { throw new Error('boom'); }) as ReadyCheck, 'boom'],
    ['hangs', (() => new Promise(() => {})) as ReadyCheck, 'did not answer within 500 ms'],
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

describe('combined readiness: Redis reachable and workers running', () => {
  let redis: Redis;
  beforeAll(() => { redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 }); });
  afterAll(async () => { redis.disconnect(); });

  it('is ready with a live Redis and running workers, and 503 names the stopped worker', async () => {
    let running = true;
    const workers = () => [{ name: 'why-blocked.probes.dc1', isRunning: () => running }];
    const base = await serve(combineChecks({ redis: redisReadyCheck(redis), workers: workersReadyCheck(workers) }));
    const ok = await fetch(`${base}/readyz`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as CombinedBody).details.redis!.details.reply).toBe('PONG');
    running = false;
    const bad = await fetch(`${base}/readyz`);
    expect(bad.status).toBe(503);
    expect(((await bad.json()) as CombinedBody).details.workers!.details.stopped).toEqual(['why-blocked.probes.dc1']);
  });

  it('is not ready when Redis refuses connections', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      const base = await serve(combineChecks({ redis: redisReadyCheck(dead) }));
      const res = await fetch(`${base}/readyz`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as CombinedBody).details.redis!.ok).toBe(false);
    } finally {
      dead.disconnect();
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
