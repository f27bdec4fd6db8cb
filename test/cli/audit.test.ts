import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSince } from '../../src/cli/audit-command.ts';
import { AuditLog } from '../../src/fix/audit-log.ts';
import { runCli } from '../helpers/run-cli.ts';

describe('why-blocked audit', () => {
  const prefix = `wbauditcli${process.pid}`;
  let dir: string;
  let file: string;
  let redis: Redis;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wb-audit-cli-'));
    file = join(dir, 'audit.jsonl');
    redis = new Redis('redis://127.0.0.1:6379');
    const now = Date.now();
    let t = now - 3 * 3_600_000;
    const log = new AuditLog({ redis, prefix, file, now: () => (t += 3_600_000) - 3_600_000 });
    await log.record({ event: 'apply', outcome: 'ok', by: 'UALICE', approvedBy: ['UBOB'], host: 'web1', proposalId: 'prop-a1', hashBefore: 'sha256:aaaaaaaaaaaaaaaa', hashAfter: 'sha256:bbbbbbbbbbbbbbbb', diff: ['+ -A INPUT -p tcp -m tcp --dport 23 -j ACCEPT'], message: 'Applied and verified' });
    await log.record({ event: 'refusal', outcome: 'refused', by: 'UMALLORY', host: 'db1', message: 'not an approver' });
    await log.record({ event: 'rollback', outcome: 'ok', by: 'UALICE', host: 'web1', message: 'Rolled back' });
  });
  afterAll(async () => {
    await redis.del(`${prefix}:wb:audit`);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints who did what where, with hashes and the diff, filtered by host (from the file)', async () => {
    const r = await runCli(['audit', '--file', file, '--host', 'web1'], { cwd: dir, env: { REDIS_URL: '' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/apply\s+ok\s+web1 by UALICE \(approved: UBOB\) prop-a1 \[aaaaaaaaaaaa → bbbbbbbbbbbb\]/);
    expect(r.stdout).toMatch(/\+ -A INPUT -p tcp -m tcp --dport 23 -j ACCEPT/);
    expect(r.stdout).toMatch(/rollback/);
    expect(r.stdout).not.toMatch(/db1/);
  });

  it('reads the Redis stream when REDIS_URL is set, with --since and --json', async () => {
    const r = await runCli(['audit', '--since', '150m', '--json'], { cwd: dir, env: { REDIS_URL: 'redis://127.0.0.1:6379', WHY_BLOCKED_QUEUE_PREFIX: prefix } });
    expect(r.code, r.stderr).toBe(0);
    const records = JSON.parse(r.stdout) as { event: string; host: string }[];
    expect(records.map((x) => `${x.event}@${x.host}`)).toEqual(['refusal@db1', 'rollback@web1']);
  });

  it.each([['--since', 'yesterday'], ['--bogus'], ['extra']])('exits 2 for bad usage: %s', async (...args) => {
    const r = await runCli(['audit', '--file', file, ...args], { cwd: dir });
    expect(r.code).toBe(2);
  });

  it('parses ages and ISO times for --since', () => {
    expect(parseSince('30m', 10_000_000)).toBe(10_000_000 - 1_800_000);
    expect(parseSince('2026-11-24T10:00:00Z', 0)).toBe(Date.parse('2026-11-24T10:00:00Z'));
    expect(() => parseSince('12', 0)).toThrow(/neither/);
  });
});
