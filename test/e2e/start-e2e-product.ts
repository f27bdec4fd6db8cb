import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load-config.ts';
import { startLab, type Lab } from '../../src/lab/index.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import { startServices, type RunningServices } from '../../src/queue/start-services.ts';
import { actionIds } from '../../src/slack/action-ids.ts';
import { helperPath } from '../fix/fix-lab-helpers.ts';
import { FakeSlackServer, type RecordedCall } from '../fake-slack/fake-slack-server.ts';
import { buttonsOf } from '../slack/helpers/blocks.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../slack/helpers/redis-test-prefix.ts';

export interface E2eProduct {
  lab: Lab;
  fake: FakeSlackServer;
  services: RunningServices;
  redis: Redis;
  prefix: string;
  eventsUrl: string;
  /** Messages in `channel` that carry an Apply button: the verdict, not a progress update. */
  verdictsIn(channel: string): RecordedCall[];
  stop(): Promise<void>;
}

/**
 * The product as `why-blocked start` runs it (startServices: inventory, SSH pool, BullMQ workers
 * with the real probes, triage engine and change worker, the Bolt HTTP receiver), on a lab,
 * real Redis and the fake Slack Web API. Only Slack itself is fake. Whatever was started is
 * stopped again if a later step fails.
 */
export async function startE2eProduct(options: { secret: string; prefixTag: string; deadmanSeconds: number }): Promise<E2eProduct> {
  const log = silentLogger();
  const auditDir = mkdtempSync(join(tmpdir(), 'wb-e2e-audit-'));
  const prefix = uniquePrefix(options.prefixTag);
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(auditDir, { recursive: true, force: true }), () => deletePrefix(prefix)];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const lab = await startLab('seed-telnet', { log });
    cleanups.push(() => lab.stop());
    const fake = new FakeSlackServer();
    await fake.start();
    cleanups.push(() => fake.stop());
    const config = loadConfig({
      SLACK_BOT_TOKEN: 'xoxb-e2e', SLACK_SIGNING_SECRET: options.secret, SLACK_API_URL: fake.apiUrl, REDIS_URL: testRedisUrl, PORT: '0',
      WHY_BLOCKED_INVENTORY: lab.inventoryFile, WHY_BLOCKED_QUEUE_PREFIX: prefix, WHY_BLOCKED_ALLOWED: '*', WHY_BLOCKED_APPROVERS: 'UAPPROVER',
      WHY_BLOCKED_CONNECT_TIMEOUT_MS: '2000', WHY_BLOCKED_CHANGE_HELPER: helperPath, WHY_BLOCKED_DEADMAN_SECONDS: String(options.deadmanSeconds),
      WHY_BLOCKED_AUDIT_FILE: join(auditDir, 'audit.jsonl'),
    }, 'start');
    const services = await startServices({ role: 'start', config, cwd: process.cwd(), log, host: '127.0.0.1', botId: 'BBOT', botUserId: 'UBOT', webRetries: 0 });
    cleanups.push(() => services.stop());
    const redis = new Redis(testRedisUrl);
    cleanups.push(() => redis.disconnect());
    const verdictsIn = (channel: string): RecordedCall[] => [...fake.callsTo('chat.update'), ...fake.callsTo('chat.postMessage')]
      .filter((c) => c.body.channel === channel && buttonsOf(c).some((b) => b.action_id === actionIds.apply));
    return { lab, fake, services, redis, prefix, eventsUrl: `http://127.0.0.1:${services.port()}/slack/events`, verdictsIn, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
