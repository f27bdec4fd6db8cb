import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load-config.ts';
import { ErrorCode, WhyBlockedError } from '../../src/errors.ts';
import { AuditLog } from '../../src/fix/audit-log.ts';
import { createChangeProcessor } from '../../src/fix/change-processor.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import { createHealthServer, createMetrics, observeChangeOutcomes, openObservedQueues, queueCountsFrom, type HealthServer } from '../../src/metrics/index.ts';
import { createChangeProducer } from '../../src/queue/change-producer.ts';
import { createWorkers, type WorkerSet } from '../../src/queue/create-workers.ts';
import { changesQueueName, probeQueueName, triageQueueName } from '../../src/queue/names.ts';
import { createProducerConnection, waitUntilReady } from '../../src/queue/redis-connections.ts';
import { startServices, type RunningServices } from '../../src/queue/start-services.ts';
import { createTriageProducer } from '../../src/queue/triage-producer.ts';
import type { RunProbe } from '../../src/queue/triage-ports.ts';
import { SshPool } from '../../src/remote/ssh-pool.ts';
import { FakeSlackServer } from '../fake-slack/fake-slack-server.ts';
import { fakeAssembleReport } from '../fake-slack/fake-triage-ports.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../slack/helpers/redis-test-prefix.ts';
import { waitForTriage } from './helpers.ts';

const log = silentLogger();
const inventory = fileURLToPath(new URL('../fixtures/inventory/valid.yml', import.meta.url));

/** One sample of a scrape with exactly these labels among its own (others, e.g. role, are ignored). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('metrics fed by the real processors, scraped over HTTP', () => {
  const prefix = uniquePrefix('obs');
  const dir = mkdtempSync(join(tmpdir(), `wb-obs-${process.pid}-`));
  let connection: Redis;
  let workers: WorkerSet | undefined;
  let server: HealthServer | undefined;
  const pool = new SshPool({ logger: log, resolveJump: (name) => { throw new Error(`no jump host ${name} in this test`); } });
  const metricsClosers: Array<() => Promise<void>> = [];

  beforeAll(async () => { connection = createProducerConnection(testRedisUrl); await waitUntilReady(connection); });
  afterAll(async () => {
    await workers?.close();
    await server?.close();
    for (const c of metricsClosers) await c();
    await pool.close();
    await connection.quit();
    await deletePrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('exposes triages by cause, triage and probe durations, probe failures, apply outcomes, queue depths and SSH gauges', async () => {
    const observed = openObservedQueues({ redisUrl: testRedisUrl, prefix, log, names: [triageQueueName, changesQueueName, probeQueueName('dc1')] });
    metricsClosers.push(() => observed.close());
    const metrics = createMetrics({ processMetrics: false, getQueueCounts: queueCountsFrom(observed.queues), poolStats: () => pool.stats(), defaultLabels: { role: 'worker' } });
    const runProbe: RunProbe = async (name) => {
      if (name === 'capture') throw new WhyBlockedError(ErrorCode.SshAuthFailed, 'the worker key was refused');
      return { probe: name, ok: true, summary: `${name} ok`, raw: [], durationMs: 40 };
    };
    workers = createWorkers({
      redisUrl: testRedisUrl, prefix, log, sites: ['dc1'], runProbe, assembleReport: fakeAssembleReport, metrics,
      processChange: (redis) => observeChangeOutcomes(createChangeProcessor({
        redis, prefix, log, inventory: () => ({ file: inventory, hosts: [], sites: [] }) as never, pool,
        audit: new AuditLog({ redis, prefix, file: join(dir, 'audit.jsonl') }), deadmanSeconds: 60, autoPersist: false,
        helperPath: '/usr/local/libexec/why-blocked/why-blocked-change', connectTimeoutMs: 1000,
      }), metrics) as (job: Job) => Promise<unknown>,
    });
    server = await createHealthServer({ port: 0, host: '127.0.0.1', checks: { ready: async () => ({ ok: true }) }, metrics: metrics.registry });
    const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${server!.port}/metrics`)).text();

    const before = await scrape();
    expect(sample(before, 'why_blocked_triages_total')).toBeUndefined();
    expect(sample(before, 'why_blocked_apply_outcomes_total')).toBeUndefined();

    const producer = createTriageProducer({ connection, prefix, log, probeBackoffMs: 10, probeAttempts: 1 });
    const changes = createChangeProducer(connection, prefix);
    try {
      const started = await producer.startTriage({
        triggerId: 'obs-trigger', request: { host: 'web01', port: 23, protocol: 'tcp', from: '10.0.0.9' }, site: 'dc1', probes: ['connect', 'capture'],
        requester: 'U1', channel: 'C1', postMessage: async () => ({ ts: '1.1' }),
      });
      if (started.kind !== 'started') throw new Error(started.kind);
      await waitForTriage(producer.state, started.triageId, (s) => s.status === 'done');
      await changes.enqueue({ kind: 'apply', proposalId: 'prop-0bad', triageId: started.triageId, host: 'web01', fixId: 'fix-move-accept', requestedBy: 'U1', approvedBy: ['U2'] });
      const text = await waitFor('the apply outcome', async () => {
        const t = await scrape();
        return sample(t, 'why_blocked_apply_outcomes_total') === undefined ? undefined : t;
      });

      expect(sample(text, 'why_blocked_triages_total', { cause: 'firewall-shadowed-accept', outcome: 'completed', role: 'worker' })).toBe(1);
      expect(sample(text, 'why_blocked_triage_duration_seconds_count', { outcome: 'completed' })).toBe(1);
      expect(sample(text, 'why_blocked_probe_duration_seconds_count', { probe: 'connect' })).toBe(1);
      expect(sample(text, 'why_blocked_probe_duration_seconds_count', { probe: 'capture' })).toBe(1);
      expect(sample(text, 'why_blocked_probe_failures_total', { probe: 'capture', code: ErrorCode.SshAuthFailed })).toBe(1);
      expect(sample(text, 'why_blocked_probe_failures_total', { probe: 'connect' })).toBeUndefined();
      // The proposal does not exist: the processor refuses before anything touches a host.
      expect(sample(text, 'why_blocked_apply_outcomes_total', { kind: 'apply', outcome: 'refused' })).toBe(1);
      for (const queue of [triageQueueName, changesQueueName, probeQueueName('dc1')]) {
        for (const state of ['waiting', 'active', 'delayed', 'failed']) {
          expect(sample(text, 'why_blocked_queue_jobs', { queue, state }), `${queue} ${state}`).toBeTypeOf('number');
        }
      }
      expect(sample(text, 'why_blocked_queue_jobs', { queue: probeQueueName('dc1'), state: 'failed' })).toBe(1);
      expect(sample(text, 'why_blocked_queue_counts_up')).toBe(1);
      for (const gauge of ['why_blocked_ssh_connections_open', 'why_blocked_ssh_channels_in_use', 'why_blocked_ssh_channels_waiting']) {
        expect(sample(text, gauge), gauge).toBe(0);
      }
    } finally {
      await changes.close();
      await producer.close();
    }
  });
});

describe('what `why-blocked bot` and `worker` serve on their ports', () => {
  const running: RunningServices[] = [];
  let fake: FakeSlackServer | undefined;
  let prefix = '';
  afterEach(async () => {
    for (const s of running.splice(0).reverse()) await s.stop();
    await fake?.stop();
    await deletePrefix(prefix);
  });

  const get = async (services: RunningServices, path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`http://127.0.0.1:${services.port()}${path}`, { headers });
    return { status: res.status, body: await res.text() };
  };

  async function start(extra: Record<string, string>): Promise<{ bot: RunningServices; worker: RunningServices }> {
    prefix = uniquePrefix('obs-svc');
    fake = new FakeSlackServer();
    await fake.start();
    const config = loadConfig({
      SLACK_BOT_TOKEN: 'xoxb-obs', SLACK_SIGNING_SECRET: 'obs-signing-secret', SLACK_API_URL: fake.apiUrl, REDIS_URL: testRedisUrl,
      PORT: '0', WHY_BLOCKED_WORKER_PORT: '0', WHY_BLOCKED_INVENTORY: inventory, WHY_BLOCKED_QUEUE_PREFIX: prefix, ...extra,
    }, 'start');
    const bot = await startServices({ role: 'bot', config, cwd: process.cwd(), log, host: '127.0.0.1', webRetries: 0 });
    running.push(bot);
    const worker = await startServices({ role: 'worker', config, cwd: process.cwd(), log, host: '127.0.0.1', sites: ['dc1'] });
    running.push(worker);
    return { bot, worker };
  }

  it('/metrics on both, queue gauges on both, SSH gauges on the worker; the bot is ready on Redis alone', async () => {
    const { bot, worker } = await start({});
    const botMetrics = await get(bot, '/metrics');
    expect(botMetrics.status).toBe(200);
    for (const queue of [triageQueueName, changesQueueName, probeQueueName('dc1'), probeQueueName('default')]) {
      expect(sample(botMetrics.body, 'why_blocked_queue_jobs', { queue, state: 'waiting', role: 'bot' }), queue).toBe(0);
    }
    expect(sample(botMetrics.body, 'why_blocked_ssh_connections_open')).toBeUndefined();
    const workerMetrics = await get(worker, '/metrics');
    expect(workerMetrics.status).toBe(200);
    expect(sample(workerMetrics.body, 'why_blocked_ssh_channels_waiting', { role: 'worker' })).toBe(0);
    expect(sample(workerMetrics.body, 'why_blocked_queue_jobs', { queue: probeQueueName('dc1'), state: 'active' })).toBe(0);
    expect(sample(workerMetrics.body, 'why_blocked_queue_jobs', { queue: probeQueueName('default'), state: 'active' })).toBeUndefined();

    expect((await get(bot, '/readyz')).status).toBe(200);
    expect((await get(worker, '/readyz')).status).toBe(200);
    // No credentials configured: there is no board, on either process.
    expect((await get(bot, '/admin/queues', { authorization: `Basic ${Buffer.from('ops:x').toString('base64')}` })).status).not.toBe(200);
    expect((await get(worker, '/admin/queues')).status).toBe(404);
  });

  it('mounts the read-only board on the bot only, behind basic auth', async () => {
    const password = 'obs-board-password-0123';
    const { bot, worker } = await start({ WHY_BLOCKED_BOARD_USER: 'ops', WHY_BLOCKED_BOARD_PASSWORD: password });
    const auth = (p: string) => ({ authorization: `Basic ${Buffer.from(`ops:${p}`).toString('base64')}` });
    expect((await get(bot, '/admin/queues')).status).toBe(401);
    expect((await get(bot, '/admin/queues', auth('wrong-password-0123456'))).status).toBe(401);
    expect((await get(bot, '/admin/queues', auth(password))).status).toBe(200);
    const api = await get(bot, '/admin/queues/api/queues', auth(password));
    expect(api.status).toBe(200);
    const queues = (JSON.parse(api.body) as { queues: Array<{ name: string; readOnlyMode: boolean }> }).queues;
    expect(queues.map((q) => q.name).sort()).toEqual([changesQueueName, probeQueueName('dc1'), probeQueueName('default'), triageQueueName].sort());
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
    const retry = await fetch(`http://127.0.0.1:${bot.port()}/admin/queues/api/queues/${encodeURIComponent(triageQueueName)}/retry/failed`, { method: 'PUT', headers: auth(password) });
    expect(retry.status).toBe(405);
    expect((await get(worker, '/admin/queues', auth(password))).status).toBe(404);
  });
});
