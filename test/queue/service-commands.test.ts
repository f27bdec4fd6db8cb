import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { runCli } from '../helpers/run-cli.ts';
import { testRedisUrl, uniquePrefix } from '../slack/helpers/redis-test-prefix.ts';

const inventory = fileURLToPath(new URL('../fixtures/inventory/valid.yml', import.meta.url));

/** A complete, valid environment; each case breaks one thing. Empty values count as unset. */
function env(prefix: string, overrides: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: 'test-signing-secret', SLACK_APP_TOKEN: '', SLACK_API_URL: 'http://127.0.0.1:1/api/',
    REDIS_URL: testRedisUrl, WHY_BLOCKED_INVENTORY: inventory, WHY_BLOCKED_QUEUE_PREFIX: prefix, PORT: '0', WHY_BLOCKED_WORKER_PORT: '0',
    WHY_BLOCKED_SITES: '', WHY_BLOCKED_REQUIRED_APPROVALS: '', WHY_BLOCKED_REDIS_BIN: '', WHY_BLOCKED_REDIS_DIR: '', ...overrides,
  };
}

const cases: Array<[string, string[], NodeJS.ProcessEnv, RegExp]> = [
  ['an extra argument to bot', ['bot', 'now'], {}, /unexpected arguments: now/],
  ['an unknown worker flag', ['worker', '--sites', 'dc1'], {}, /Unknown option '--sites'/],
  ['--site without a value', ['start', '--site'], {}, /--site/],
  ['a bot without a token', ['bot'], { SLACK_BOT_TOKEN: '' }, /SLACK_BOT_TOKEN is missing/],
  ['a bot token of the wrong kind', ['bot'], { SLACK_BOT_TOKEN: 'xapp-1' }, /SLACK_BOT_TOKEN="xapp-1" is invalid/],
  ['a bot with neither signing secret nor app token', ['bot'], { SLACK_SIGNING_SECRET: '' }, /SLACK_SIGNING_SECRET is missing.*SLACK_APP_TOKEN/],
  ['a bot without Redis', ['bot'], { REDIS_URL: '' }, /REDIS_URL is missing: the bot needs the shared Redis/],
  ['a worker without Redis', ['worker'], { REDIS_URL: '' }, /REDIS_URL is missing: workers need/],
  ['a Redis URL without scheme', ['worker'], { REDIS_URL: '127.0.0.1:6379' }, /REDIS_URL="127.0.0.1:6379" is invalid: use redis:\/\//],
  ['a site name with a space', ['worker', '--site', 'dc 1'], {}, /site "dc 1" is not a valid site name/],
  ['a site the inventory does not have', ['worker', '--site', 'dc9'], {}, /site "dc9" has no host in the inventory.*its sites are: dc1, default/],
  ['WHY_BLOCKED_SITES naming an unknown site', ['worker'], { WHY_BLOCKED_SITES: 'edge' }, /site "edge" has no host in the inventory/],
  ['a missing inventory file', ['start'], { WHY_BLOCKED_INVENTORY: '/nonexistent/inventory.yml' }, /inventory/i],
  ['three approvals', ['start'], { WHY_BLOCKED_REQUIRED_APPROVALS: '3' }, /WHY_BLOCKED_REQUIRED_APPROVALS="3" is invalid: use 1, or 2/],
  ['start without Redis and without redis-server', ['start'], { REDIS_URL: '', WHY_BLOCKED_REDIS_BIN: '/nonexistent/redis-server' },
    /REDIS_URL is unset and "\/nonexistent\/redis-server" was not found: install Redis \(Debian\/Ubuntu: `apt-get install redis-server`/],
];

describe('why-blocked bot|worker|start refuse bad input and configuration before starting anything', () => {
  it.each(cases)('%s: exit 2 with a clear message', async (_name, args, overrides, message) => {
    const prefix = uniquePrefix('cli');
    const cwd = mkdtempSync(join(tmpdir(), 'wb-svc-'));
    const r = await runCli(args, { env: env(prefix, overrides), cwd, timeoutMs: 30_000 });
    expect(r.stderr).toMatch(message);
    expect(r.code, r.stderr).toBe(2);
    const redis = new Redis(testRedisUrl);
    try {
      // Nothing registered a worker or a queue under this prefix.
      expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
