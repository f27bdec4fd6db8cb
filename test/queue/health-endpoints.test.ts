import { afterEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load-config.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import { startServices, type RunningServices } from '../../src/queue/start-services.ts';
import { FakeSlackServer } from '../fake-slack/fake-slack-server.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../slack/helpers/redis-test-prefix.ts';

const inventory = fileURLToPath(new URL('../fixtures/inventory/valid.yml', import.meta.url));

async function get(services: RunningServices, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${services.port()}${path}`);
  return { status: res.status, body: await res.text() };
}

describe('/healthz and /readyz of the bot and the worker processes', () => {
  const running: RunningServices[] = [];
  let fake: FakeSlackServer | undefined;
  let prefix = '';
  afterEach(async () => {
    for (const s of running.splice(0).reverse()) await s.stop();
    await fake?.stop();
    await deletePrefix(prefix);
  });

  it('the bot is alive but not ready until a worker serves its queues; the worker reports its own readiness', async () => {
    prefix = uniquePrefix('health');
    fake = new FakeSlackServer();
    await fake.start();
    const config = loadConfig({
      SLACK_BOT_TOKEN: 'xoxb-h', SLACK_SIGNING_SECRET: 'health-signing-secret', SLACK_API_URL: fake.apiUrl, REDIS_URL: testRedisUrl,
      PORT: '0', WHY_BLOCKED_WORKER_PORT: '0', WHY_BLOCKED_INVENTORY: inventory, WHY_BLOCKED_QUEUE_PREFIX: prefix,
    }, 'start');
    const log = silentLogger();
    const bot = await startServices({ role: 'bot', config, cwd: process.cwd(), log, host: '127.0.0.1', webRetries: 0 });
    running.push(bot);
    expect((await get(bot, '/healthz')).status).toBe(200);
    const notReady = await get(bot, '/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toContain('no worker serves why-blocked.triage');

    const worker = await startServices({ role: 'worker', config, cwd: process.cwd(), log, host: '127.0.0.1', sites: ['dc1'] });
    running.push(worker);
    expect(worker.port()).not.toBe(bot.port());
    expect((await get(worker, '/healthz')).status).toBe(200);
    const workerReady = await get(worker, '/readyz');
    expect(workerReady.status).toBe(200);
    expect(JSON.parse(workerReady.body).detail.queues).toEqual(['why-blocked.probes.dc1', 'why-blocked.triage', 'why-blocked.changes']);

    const ready = await get(bot, '/readyz');
    expect(ready.status, ready.body).toBe(200);
    const body = JSON.parse(ready.body) as { detail: { workers: Record<string, number>; sitesWithoutWorker: string[] } };
    expect(body.detail.workers['why-blocked.probes.dc1']).toBe(1);
    expect(body.detail.sitesWithoutWorker).toEqual(['default']);

    await running.pop()!.stop();
    expect((await get(bot, '/readyz')).status).toBe(503);
  });
});
