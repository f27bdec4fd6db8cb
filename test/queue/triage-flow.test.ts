import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { silentLogger } from '../../src/log/create-logger.ts';
import { createWorkers, type WorkerSet } from '../../src/queue/create-workers.ts';
import { probeQueueName, triageQueueName } from '../../src/queue/names.ts';
import { createProducerConnection, waitUntilReady } from '../../src/queue/redis-connections.ts';
import { createTriageProducer, type TriageProducer } from '../../src/queue/triage-producer.ts';
import type { RunProbe } from '../../src/queue/triage-ports.ts';
import type { ProbeName } from '../../src/triage/report-types.ts';
import { fakeAssembleReport } from '../fake-slack/fake-triage-ports.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../slack/helpers/redis-test-prefix.ts';
import { waitForTriage } from './helpers.ts';

describe('the triage flow on BullMQ', () => {
  const log = silentLogger();
  let connection: Redis;
  let prefix: string;
  let producer: TriageProducer;
  let workers: WorkerSet | undefined;

  beforeAll(async () => { connection = createProducerConnection(testRedisUrl); await waitUntilReady(connection); });
  afterAll(async () => { await connection.quit(); });
  afterEach(async () => { await workers?.close(); await producer.close(); await deletePrefix(prefix); workers = undefined; });

  async function run(runProbe: RunProbe, probes: ProbeName[], site = 'dc1') {
    prefix = uniquePrefix('flow');
    producer = createTriageProducer({ connection, prefix, log, probeBackoffMs: 20, probeAttempts: 3 });
    workers = createWorkers({ redisUrl: testRedisUrl, prefix, log, sites: [site], runProbe, assembleReport: fakeAssembleReport });
    const started = await producer.startTriage({
      triggerId: 'flow-trigger', request: { host: 'web01', port: 23, protocol: 'tcp', from: '10.0.0.9' }, site, probes,
      requester: 'U1', channel: 'C1', postMessage: async () => ({ ts: '1.1' }),
    });
    if (started.kind !== 'started') throw new Error(started.kind);
    return { triageId: started.triageId, done: await waitForTriage(producer.state, started.triageId, (s) => s.status === 'done') };
  }

  it('retries a transient probe failure with backoff and uses the later result', async () => {
    let attempts = 0;
    const { done } = await run(async (name) => {
      attempts += 1;
      if (attempts < 3) throw new Error('read ECONNRESET');
      return { probe: name, ok: true, summary: 'third time lucky', raw: [], durationMs: 1 };
    }, ['connect']);
    expect(attempts).toBe(3);
    expect(done.report?.evidence.map((e) => e.summary)).toEqual(['third time lucky']);
  });

  it('still aggregates when a probe fails every attempt: the failure is passed to the report', async () => {
    const { done } = await run(async (name) => {
      if (name === 'capture') throw new Error('tcpdump: permission denied');
      return { probe: name, ok: true, summary: `${name} ok`, raw: [], durationMs: 1 };
    }, ['connect', 'capture']);
    expect(done.report?.evidence.map((e) => e.probe)).toEqual(['connect']);
    expect(done.report?.summary).toContain('probes failed: capture');
    expect(done.progress.find((p) => p.probe === 'capture')).toMatchObject({ ok: false, summary: 'could not run: tcpdump: permission denied' });
  });

  it('routes probe jobs to the site queue with deterministic ids and secret-free data', async () => {
    const { triageId } = await run(async (name) => ({ probe: name, ok: true, summary: 'ok', raw: [], durationMs: 1 }), ['connect', 'listener'], 'edge');
    expect(triageId).toMatch(/^tri-[0-9a-f]{20}$/);
    const probes = new Queue(probeQueueName('edge'), { connection, prefix });
    const parent = new Queue(triageQueueName, { connection, prefix });
    const job = await probes.getJob(`${triageId}-connect`);
    expect(job?.data).toEqual({ triageId, probe: 'connect', request: { host: 'web01', port: 23, protocol: 'tcp', from: '10.0.0.9' }, timeoutMs: 8000 });
    expect(job?.opts.attempts).toBe(3);
    expect(Object.keys((await parent.getJob(triageId))?.data ?? {}).sort()).toEqual(['probes', 'request', 'site', 'triageId']);
    await probes.close();
    await parent.close();
  });

  it('rejects a site name that cannot be a queue name', () => {
    expect(() => probeQueueName('dc1:evil')).toThrow(/not a valid site name/);
  });
});

describe('producer connection', () => {
  it('fails fast with an actionable message when Redis is unreachable', async () => {
    const dead = createProducerConnection('redis://127.0.0.1:1', { retryStrategy: () => null, lazyConnect: false });
    dead.on('error', () => undefined);
    await expect(waitUntilReady(dead, 1000)).rejects.toThrow(/check REDIS_URL/);
    dead.disconnect();
  });
});
