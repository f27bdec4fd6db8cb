import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, readAuditFile, readAuditStream } from '../../src/fix/audit-log.ts';
import { redisHostLock } from '../../src/fix/host-lock.ts';
import { refusalFor } from '../../src/fix/change-processor.ts';
import type { ChangeJobData } from '../../src/queue/job-schemas.ts';
import type { Proposal } from '../../src/queue/proposal-store.ts';

const prefix = `wbaudit${process.pid}${Date.now().toString(36)}`;
let redis: Redis;
let dir: string;
beforeAll(() => {
  redis = new Redis('redis://127.0.0.1:6379');
  dir = mkdtempSync(join(tmpdir(), 'wb-audit-'));
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

describe('audit log', () => {
  it('appends every record to the Redis stream and the JSON-lines file, queryable by host and time', async () => {
    const file = join(dir, 'audit.jsonl');
    let t = 1_000_000;
    const log = new AuditLog({ redis, prefix, file, now: () => (t += 1000) });
    await log.record({ event: 'apply', outcome: 'ok', by: 'U1', host: 'web1', proposalId: 'prop-1', hashBefore: 'sha256:a', hashAfter: 'sha256:b', diff: ['+ -A INPUT -j ACCEPT'], message: 'applied' });
    await log.record({ event: 'refusal', outcome: 'refused', by: 'U2', host: 'web2', message: 'not an approver' });
    await log.record({ event: 'rollback', outcome: 'ok', by: 'U1', host: 'web1', message: 'rolled back' });
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    const fromFile = await readAuditFile(file, { host: 'web1' });
    expect(fromFile.map((r) => r.event)).toEqual(['apply', 'rollback']);
    expect(fromFile[0]).toMatchObject({ by: 'U1', hashBefore: 'sha256:a', hashAfter: 'sha256:b', diff: ['+ -A INPUT -j ACCEPT'], at: new Date(1_001_000).toISOString() });
    const fromRedis = await readAuditStream(redis, prefix, {});
    expect(fromRedis.map((r) => r.event)).toEqual(['apply', 'refusal', 'rollback']);
    expect((await readAuditFile(file, { sinceMs: 1_002_500 })).map((r) => r.event)).toEqual(['rollback']);
    expect(await readAuditFile(join(dir, 'missing.jsonl'))).toEqual([]);
  });
});

describe('per-host change lock', () => {
  it('makes a second change to the same host wait for the first, not fail', async () => {
    const lock = redisHostLock(redis, prefix, { pollMs: 20 });
    const order: string[] = [];
    const release1 = await lock.acquire('web1');
    const second = lock.acquire('web1').then((release) => { order.push('second acquired'); return release; });
    const other = await lock.acquire('web2');
    order.push('other host acquired');
    await new Promise((r) => setTimeout(r, 200));
    order.push('first releases');
    await release1();
    const release2 = await second;
    expect(order).toEqual(['other host acquired', 'first releases', 'second acquired']);
    await release2();
    await other();
  });
});

describe('processor re-checks the stored proposal before anything runs', () => {
  const base: Proposal = {
    id: 'prop-1', triageId: 't1', host: 'web1', fixId: 'f1', fixTitle: '', effect: '', commands: [], rulesetAfter: '', requester: 'UREQ',
    channel: 'C', ts: '1', createdAtMs: 0, expiresAtMs: 10_000, status: 'approved', approvers: ['UA'], requiredApprovals: 1, forbidSelfApproval: false,
  };
  const job: ChangeJobData = { kind: 'apply', proposalId: 'prop-1', triageId: 't1', host: 'web1', fixId: 'f1', requestedBy: 'UREQ', approvedBy: ['UA'] };
  it.each<[string, Partial<Proposal> | undefined, Partial<ChangeJobData>, RegExp]>([
    ['a missing proposal', undefined, {}, /no longer exists/],
    ['another host', {}, { host: 'db1' }, /does not match/],
    ['a pending proposal', { status: 'pending' }, {}, /pending, not approved/],
    ['an expired proposal', { status: 'expired' }, {}, /expired/],
    ['a pending proposal past its expiry', { status: 'pending', expiresAtMs: 1 }, {}, /expired/],
    ['a forged approver', {}, { approvedBy: ['UMALLORY'] }, /approvers the proposal does not record/],
    ['no approver', {}, { approvedBy: [] }, /approvers/],
    ['too few approvals', { requiredApprovals: 2 }, {}, /needs 2 approvals/],
    ['self-approval', { forbidSelfApproval: true, approvers: ['UREQ'] }, { approvedBy: ['UREQ'] }, /own fix/],
    ['persisting an unapplied fix', { status: 'approved' }, { kind: 'persist' }, /Only an applied fix can be made permanent/],
    ['rolling back an unapplied fix', { status: 'approved' }, { kind: 'rollback' }, /Only an applied fix can be rolled back/],
    ['persisting a rolled-back fix', { status: 'rolled-back' }, { kind: 'persist' }, /Only an applied fix can be made permanent/],
    ['rolling back a dismissed fix', { status: 'dismissed' }, { kind: 'rollback' }, /Only an applied fix can be rolled back/],
  ])('refuses %s', (_what, patch, jobPatch, message) => {
    const p = patch === undefined ? undefined : { ...base, ...patch };
    expect(refusalFor({ ...job, ...jobPatch }, p, 5000)).toMatch(message);
  });

  it('accepts an approved proposal, and checks the approvers list when it names users', () => {
    expect(refusalFor(job, base, 5000)).toBeUndefined();
    expect(refusalFor(job, base, 5000, ['UA', 'UB'])).toBeUndefined();
    expect(refusalFor(job, base, 5000, ['UB'])).toMatch(/approvers list/);
    expect(refusalFor(job, base, 5000, ['S123'])).toBeUndefined();
    expect(refusalFor({ ...job, kind: 'rollback' }, { ...base, status: 'persisted' }, 5000)).toBeUndefined();
    // The states the bot sets when it enqueues a follow-up (its click is what claims it).
    expect(refusalFor({ ...job, kind: 'persist' }, { ...base, status: 'persisting' }, 5000)).toBeUndefined();
    expect(refusalFor({ ...job, kind: 'rollback' }, { ...base, status: 'rolling-back' }, 5000)).toBeUndefined();
  });
});
