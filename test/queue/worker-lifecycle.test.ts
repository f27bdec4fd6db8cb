import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { silentLogger } from '../../src/log/create-logger.ts';
import { createWorkers, type WorkerSet } from '../../src/queue/create-workers.ts';
import { probeQueueName } from '../../src/queue/names.ts';
import { createProducerConnection, waitUntilReady } from '../../src/queue/redis-connections.ts';
import { createTriageProducer, type TriageProducer } from '../../src/queue/triage-producer.ts';
import type { ProbeName } from '../../src/triage/report-types.ts';
import { fakeAssembleReport } from '../fake-slack/fake-triage-ports.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../slack/helpers/redis-test-prefix.ts';
import { spawnProbeWorker, waitForTriage, type ChildWorker } from './helpers.ts';

describe('probe workers: stalled-job recovery and graceful shutdown', () => {
  const log = silentLogger();
  let prefix: string;
  let producer: TriageProducer | undefined;
  let workers: WorkerSet | undefined;
  let child: ChildWorker | undefined;
  const connection = createProducerConnection(testRedisUrl);

  afterAll(async () => { await connection.quit(); });

  afterEach(async () => {
    if (child && child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    await child?.exited;
    await workers?.close();
    await producer?.close();
    await deletePrefix(prefix);
    child = undefined; workers = undefined; producer = undefined;
  });

  async function start(probes: ProbeName[], triggerId: string): Promise<string> {
    await waitUntilReady(connection);
    producer = createTriageProducer({ connection, prefix, log, probeTimeoutMs: 20_000, triageTimeoutMs: 60_000 });
    const result = await producer.startTriage({
      triggerId, request: { host: 'web01', port: 23, protocol: 'tcp' }, site: 'dc1', probes, requester: 'U1', channel: 'C1',
      postMessage: async () => ({ ts: '1.1' }),
    });
    if (result.kind !== 'started') throw new Error(`expected a new triage, got ${result.kind}`);
    return result.triageId;
  }

  it('re-runs a probe on another worker after the first worker is SIGKILLed mid-probe, and the triage completes', async () => {
    prefix = uniquePrefix('stall');
    const triageId = await start(['connect'], 'stall-1');
    child = spawnProbeWorker({ PREFIX: prefix, REDIS_URL: testRedisUrl, MODE: 'hang' });
    await child.waitForLine('STARTED connect');
    child.child.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');

    const reRuns: string[] = [];
    workers = createWorkers({
      redisUrl: testRedisUrl, prefix, log, sites: ['dc1'], assembleReport: fakeAssembleReport, lockDurationMs: 1000, stalledIntervalMs: 500,
      runProbe: async (name) => { reRuns.push(name); return { probe: name, ok: true, summary: 'recovered', raw: [], durationMs: 1 }; },
    });
    const state = producer?.state;
    if (!state) throw new Error('producer not started');
    const done = await waitForTriage(state, triageId, (s) => s.status === 'done');
    expect(reRuns).toEqual(['connect']);
    expect(done.report?.evidence.map((e) => e.summary)).toEqual(['recovered']);
  });

  it('on SIGTERM finishes the active probe before exiting', async () => {
    prefix = uniquePrefix('sigterm');
    const triageId = await start(['listener'], 'sigterm-1');
    child = spawnProbeWorker({ PREFIX: prefix, REDIS_URL: testRedisUrl, MODE: 'slow', SLOW_MS: '1500' });
    await child.waitForLine('STARTED listener');
    child.child.kill('SIGTERM');
    const exit = await child.exited;
    expect(exit.code).toBe(0);
    expect(child.output).toContain('FINISHED listener');
    const queue = new Queue(probeQueueName('dc1'), { connection, prefix });
    const job = await queue.getJob(`${triageId}-listener`);
    // Completed children are removed on age only, so the job is still there to inspect.
    expect(await job?.getState()).toBe('completed');
    await queue.close();
  });
});
