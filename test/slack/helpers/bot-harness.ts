import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { silentLogger } from '../../../src/log/create-logger.ts';
import { createWorkers, type CreateWorkersOptions, type WorkerSet } from '../../../src/queue/create-workers.ts';
import { changesQueueName, probeQueueName, triageQueueName } from '../../../src/queue/names.ts';
import type { ProposalPolicy } from '../../../src/queue/proposal-store.ts';
import { createBot, type Bot, type BotOptions } from '../../../src/slack/create-bot.ts';
import { FakeSlackServer } from '../../fake-slack/fake-slack-server.ts';
import { fakeAssembleReport, fakeProbePlan, fakeResolveHost, fakeRunProbe } from '../../fake-slack/fake-triage-ports.ts';
import { clickBody, commandBody, postSigned, type SignedPostOptions } from './signed-request.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from './redis-test-prefix.ts';

export const signingSecret = 'test-signing-secret-0123456789';

export interface HarnessOptions {
  allowed?: string[];
  approvers?: string[];
  proposalPolicy?: ProposalPolicy;
  /** false: no workers at all (jobs stay queued). */
  workers?: boolean;
  workerOptions?: Partial<CreateWorkersOptions>;
  bot?: Partial<BotOptions>;
}

export interface Harness {
  fake: FakeSlackServer;
  bot: Bot;
  workers: WorkerSet | undefined;
  prefix: string;
  redis: Redis;
  eventsUrl: string;
  command(text: string, opts?: { user?: string; channel?: string; triggerId?: string }, signed?: SignedPostOptions): Promise<{ status: number; body: Record<string, unknown> | undefined }>;
  click(actionId: string, value: string, user: string, opts?: { channel?: string; triggerId?: string }): Promise<number>;
  /** Total jobs in every state across triage, probe (all fake sites) and changes queues. */
  totalJobs(): Promise<number>;
  changeJobIds(): Promise<string[]>;
  stop(): Promise<void>;
}

let responseCounter = 0;

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const fake = new FakeSlackServer();
  await fake.start();
  const prefix = uniquePrefix('slack');
  const log = silentLogger();
  const bot = await createBot({
    botToken: 'xoxb-test', signingSecret, port: 0, host: '127.0.0.1', apiUrl: fake.apiUrl, log, webRetries: 0,
    redisUrl: testRedisUrl, prefix, allowed: options.allowed ?? ['*'], approvers: options.approvers ?? ['UAPPROVER1', 'UAPPROVER2'],
    resolveHost: fakeResolveHost, probePlan: fakeProbePlan, probeBackoffMs: 50, watchdogIntervalMs: 200, updaterBlockMs: 200,
    ...options.bot,
  });
  await bot.start();
  const workers = options.workers === false ? undefined : createWorkers({
    redisUrl: testRedisUrl, prefix, log, sites: ['dc1'], runProbe: fakeRunProbe, assembleReport: fakeAssembleReport,
    ...(options.proposalPolicy ? { proposalPolicy: options.proposalPolicy } : {}),
    ...options.workerOptions,
  });
  const redis = new Redis(testRedisUrl);
  const eventsUrl = `http://127.0.0.1:${bot.slack.port()}/slack/events`;
  const queues = [triageQueueName, probeQueueName('dc1'), probeQueueName('edge'), changesQueueName].map((n) => new Queue(n, { connection: redis, prefix }));

  return {
    fake, bot, workers, prefix, redis, eventsUrl,
    command: async (text, opts = {}, signed = {}) => {
      responseCounter += 1;
      const body = commandBody({ text, responseUrl: fake.responseUrl(`cmd-${responseCounter}`), ...opts });
      const res = await postSigned(eventsUrl, signingSecret, body, signed);
      const raw = await res.text();
      return { status: res.status, body: raw ? JSON.parse(raw) as Record<string, unknown> : undefined };
    },
    click: async (actionId, value, user, opts = {}) => {
      responseCounter += 1;
      const res = await postSigned(eventsUrl, signingSecret, clickBody({ actionId, value, user, responseUrl: fake.responseUrl(`click-${responseCounter}`), ...opts }));
      await res.text();
      return res.status;
    },
    totalJobs: async () => {
      let total = 0;
      for (const q of queues) {
        const counts = await q.getJobCounts();
        total += Object.values(counts).reduce((a, b) => a + b, 0);
      }
      return total;
    },
    changeJobIds: async () => {
      const q = queues[3];
      if (!q) return [];
      const jobs = await q.getJobs();
      return jobs.map((j) => j.id ?? '');
    },
    stop: async () => {
      await workers?.close();
      await bot.stop();
      await Promise.all(queues.map((q) => q.close()));
      redis.disconnect();
      await fake.stop();
      await deletePrefix(prefix);
    },
  };
}

/** Text of the last ephemeral answer the user saw: the ack body or the latest response_url post. */
export function lastResponseText(h: Harness): string {
  const last = h.fake.responses.at(-1);
  return String(last?.body.text ?? '');
}
