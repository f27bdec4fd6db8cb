import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, createQueueBoard, openObservedQueues, queueCountsFrom, type ObservedQueues } from '../../src/metrics/index.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import { triageQueueName } from '../../src/queue/names.ts';
import { startHarness, type Harness } from '../slack/helpers/bot-harness.ts';
import { testRedisUrl, uniquePrefix, deletePrefix } from '../slack/helpers/redis-test-prefix.ts';

const credentials = { user: 'ops', password: 'socket-mode-board-password' };

describe('Socket Mode: /metrics, /readyz and the board on the small HTTP server on PORT', () => {
  let h: Harness;
  let observed: ObservedQueues;
  const prefix = uniquePrefix('sock-routes');

  beforeAll(async () => {
    observed = openObservedQueues({ redisUrl: testRedisUrl, prefix, names: [triageQueueName], log: silentLogger() });
    const metrics = createMetrics({ processMetrics: false, getQueueCounts: queueCountsFrom(observed.queues), defaultLabels: { role: 'bot' } });
    metrics.observeTriage({ cause: 'not-listening', durationMs: 900 });
    h = await startHarness({
      workers: false,
      bot: { appToken: 'xapp-1-test', metrics: metrics.registry, board: createQueueBoard({ queues: observed.queues, credentials }) },
    });
  });
  afterAll(async () => {
    await h.stop();
    await observed.close();
    await deletePrefix(prefix);
  });

  const url = (path: string): string => `http://127.0.0.1:${h.bot.slack.port()}${path}`;

  it('serves the metrics registry it was given', async () => {
    expect(h.bot.slack.mode).toBe('socket');
    const res = await fetch(url('/metrics'));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('why_blocked_triages_total{cause="not-listening",outcome="completed",role="bot"} 1');
    expect(text).toContain(`why_blocked_queue_jobs{queue="${triageQueueName}",state="waiting",role="bot"} 0`);
  });

  it('serves /readyz in Socket Mode too: not ready while no worker consumes the triage queue', async () => {
    const res = await fetch(url('/readyz'));
    expect(res.status).toBe(503);
    expect(((await res.json()) as { problems: string[] }).problems.join(' ')).toContain(`no worker serves ${triageQueueName}`);
  });

  it('guards the board with basic auth and answers 404 elsewhere', async () => {
    expect((await fetch(url('/admin/queues'))).status).toBe(401);
    const ok = await fetch(url('/admin/queues'), { headers: { authorization: `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}` } });
    expect(ok.status).toBe(200);
    expect((await fetch(url('/slack/events'), { method: 'POST' })).status).toBe(404);
  });
});
