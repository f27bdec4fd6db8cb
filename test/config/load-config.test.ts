import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.ts';
import { loadEnvFile } from '../../src/config/load-env-file.ts';
import { ErrorCode, WhyBlockedError } from '../../src/errors.ts';

function failure(env: NodeJS.ProcessEnv, role?: Parameters<typeof loadConfig>[1]): WhyBlockedError {
  try {
    loadConfig(env, role);
  } catch (err) {
    if (err instanceof WhyBlockedError) return err;
    throw err;
  }
  throw new Error('expected loadConfig to fail');
}

describe('loadConfig', () => {
  it('applies defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c.WHY_BLOCKED_INVENTORY).toBe('./inventory.yml');
    expect(c.WHY_BLOCKED_TRIAGE_TIMEOUT_MS).toBe(10_000);
    expect(c.WHY_BLOCKED_ALLOWED).toEqual(['*']);
    expect(c.SLACK_API_URL).toBe('https://slack.com/api/');
    expect(c.REDIS_URL).toBeUndefined();
  });

  it('parses lists and numbers', () => {
    const c = loadConfig({ WHY_BLOCKED_APPROVERS: 'U123ABC, S0GROUP', PORT: '8080', WHY_BLOCKED_TRIAGE_TIMEOUT_MS: '5000' });
    expect(c.WHY_BLOCKED_APPROVERS).toEqual(['U123ABC', 'S0GROUP']);
    expect(c.PORT).toBe(8080);
  });

  const bad: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
    ['log level', { LOG_LEVEL: 'loud' }, /LOG_LEVEL="loud" is invalid: use one of/],
    ['timeout not a number', { WHY_BLOCKED_TRIAGE_TIMEOUT_MS: '10s' }, /WHY_BLOCKED_TRIAGE_TIMEOUT_MS="10s" is invalid/],
    ['port out of range', { PORT: '99999' }, /PORT="99999" is invalid/],
    ['redis url scheme', { REDIS_URL: 'localhost:6379' }, /REDIS_URL="localhost:6379" is invalid: use redis:\/\//],
    ['bot token kind', { SLACK_BOT_TOKEN: 'xapp-1' }, /SLACK_BOT_TOKEN="xapp-1" is invalid: copy the Bot User OAuth Token/],
    ['approver is a channel', { WHY_BLOCKED_APPROVERS: 'C0123' }, /WHY_BLOCKED_APPROVERS has entries that are not Slack IDs: C0123/],
    ['allowed junk', { WHY_BLOCKED_ALLOWED: 'alice' }, /WHY_BLOCKED_ALLOWED has entries that are not Slack IDs: alice/],
    ['lab cidr', { WHY_BLOCKED_LAB_CIDR: '10.0.0.0/30' }, /WHY_BLOCKED_LAB_CIDR/],
  ];
  it.each(bad)('rejects a bad %s with the variable and the fix', (_n, env, pattern) => {
    const err = failure(env);
    expect(err.code).toBe(ErrorCode.ConfigInvalid);
    expect(err.message).toMatch(pattern);
  });

  it('reports every bad key in one error', () => {
    const err = failure({ LOG_LEVEL: 'x', PORT: 'y', REDIS_URL: 'z' });
    expect(err.message).toMatch(/3 problems/);
    expect(err.details.problems).toHaveLength(3);
  });

  it('requires Slack credentials only for the bot', () => {
    expect(() => loadConfig({}, 'cli')).not.toThrow();
    const err = failure({}, 'bot');
    expect(err.message).toMatch(/SLACK_BOT_TOKEN is missing/);
    expect(err.message).toMatch(/SLACK_SIGNING_SECRET is missing.*SLACK_APP_TOKEN/);
    expect(() => loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', REDIS_URL: 'redis://r:6379' }, 'bot')).not.toThrow();
    expect(failure({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' }, 'bot').message).toMatch(/REDIS_URL is missing: the bot needs/);
    expect(failure({}, 'worker').message).toMatch(/REDIS_URL is missing/);
  });
});

describe('loadEnvFile', () => {
  it('reads .env without overriding the real environment, and ignores a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wb-env-'));
    writeFileSync(join(dir, '.env'), 'LOG_LEVEL=debug\nPORT=4000\n# comment\n');
    const env: NodeJS.ProcessEnv = { PORT: '5000' };
    expect(loadEnvFile(env, dir)).toEqual(['LOG_LEVEL']);
    expect(env).toEqual({ PORT: '5000', LOG_LEVEL: 'debug' });
    expect(loadEnvFile({}, join(dir, 'missing'))).toEqual([]);
  });
});

describe('loadConfig: approvals, queue and worker settings', () => {
  it('applies their defaults and parses them', () => {
    const d = loadConfig({});
    expect([d.WHY_BLOCKED_REQUIRED_APPROVALS, d.WHY_BLOCKED_FORBID_SELF_APPROVAL, d.WHY_BLOCKED_PROPOSAL_TTL_MS]).toEqual([1, false, 900_000]);
    expect([d.WHY_BLOCKED_QUEUE_PREFIX, d.WHY_BLOCKED_SITES, d.WHY_BLOCKED_WORKER_PORT]).toEqual(['bull', ['default'], 3001]);
    const c = loadConfig({ WHY_BLOCKED_REQUIRED_APPROVALS: '2', WHY_BLOCKED_FORBID_SELF_APPROVAL: 'true', WHY_BLOCKED_SITES: 'dc1, edge' });
    expect([c.WHY_BLOCKED_REQUIRED_APPROVALS, c.WHY_BLOCKED_FORBID_SELF_APPROVAL, c.WHY_BLOCKED_SITES]).toEqual([2, true, ['dc1', 'edge']]);
  });

  const bad: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
    ['approval count', { WHY_BLOCKED_REQUIRED_APPROVALS: '3' }, /WHY_BLOCKED_REQUIRED_APPROVALS="3" is invalid: use 1, or 2/],
    ['self-approval flag', { WHY_BLOCKED_FORBID_SELF_APPROVAL: 'yes' }, /WHY_BLOCKED_FORBID_SELF_APPROVAL="yes" is invalid: use true or false/],
    ['proposal ttl', { WHY_BLOCKED_PROPOSAL_TTL_MS: '10' }, /WHY_BLOCKED_PROPOSAL_TTL_MS="10" is invalid/],
    ['queue prefix with a colon', { WHY_BLOCKED_QUEUE_PREFIX: 'a:b' }, /WHY_BLOCKED_QUEUE_PREFIX="a:b" is invalid/],
    ['site name', { WHY_BLOCKED_SITES: 'dc1,bad site' }, /WHY_BLOCKED_SITES="dc1,bad site" is invalid: use a comma-separated list of inventory site names/],
    ['empty site list', { WHY_BLOCKED_SITES: ' , ' }, /WHY_BLOCKED_SITES/],
    ['worker port', { WHY_BLOCKED_WORKER_PORT: '-1' }, /WHY_BLOCKED_WORKER_PORT="-1" is invalid/],
  ];
  it.each(bad)('rejects a bad %s with the variable and the fix', (_n, env, pattern) => {
    expect(failure(env).message).toMatch(pattern);
  });
});
