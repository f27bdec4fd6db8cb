// The bot under test for slack-bench.ts, in its own process so the load generator and the
// fake Slack server do not share its event loop. Prints "PORT <n>" when listening.
import { silentLogger } from '../../src/log/create-logger.ts';
import { createBot } from '../../src/slack/create-bot.ts';
import { fakeProbePlan, fakeResolveHost } from '../fake-slack/fake-triage-ports.ts';

const bot = await createBot({
  botToken: 'xoxb-bench', signingSecret: process.env.BENCH_SECRET ?? '', port: 0, host: '127.0.0.1', apiUrl: process.env.BENCH_API_URL ?? '',
  log: silentLogger(), webRetries: 0, redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: process.env.BENCH_PREFIX ?? 'bench',
  allowed: ['*'], approvers: [], resolveHost: fakeResolveHost, probePlan: fakeProbePlan, botId: 'BBENCH', botUserId: 'UBENCH',
  ...(process.env.BENCH_POST_ACK_CONCURRENCY ? { postAckConcurrency: Number(process.env.BENCH_POST_ACK_CONCURRENCY) } : {}),
});
await bot.start();
process.stdout.write(`PORT ${bot.slack.port()}\n`);
process.on('SIGTERM', () => { bot.stop().then(() => process.exit(0), () => process.exit(1)); });
