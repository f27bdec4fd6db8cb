import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeLab } from '../helpers/lab-gate.ts';
import { AuditLog, readAuditStream } from '../../src/fix/audit-log.ts';
import { createChangeProcessor } from '../../src/fix/change-processor.ts';
import type { ChangeResult } from '../../src/fix/change-engine.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import type { ChangeJobData } from '../../src/queue/job-schemas.ts';
import { ProposalStore, type Proposal } from '../../src/queue/proposal-store.ts';
import { TriageStateStore } from '../../src/queue/triage-state-store.ts';
import type { TriageReport } from '../../src/triage/report-types.ts';
import { helperPath, normRules, startFixLab, type FixLab } from './fix-lab-helpers.ts';

describeLab('the change worker runs only approved, stored proposals (real Redis, BullMQ, lab host)', () => {
  const prefix = `wbfix${process.pid}${Date.now().toString(36)}`;
  const queueName = `why-blocked.changes.test-${prefix}`;
  let redis: Redis;
  let queue: Queue;
  let worker: Worker;
  let fl: FixLab;
  let report: TriageReport;
  const results = new Map<string, ChangeResult>();
  let jobCounter = 0;

  beforeAll(async () => {
    redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
    fl = await startFixLab();
    report = await fl.triage();
    const processor = createChangeProcessor({
      redis, prefix, log: silentLogger(), inventory: () => fl.inventory, pool: fl.pool, audit: new AuditLog({ redis, prefix }),
      deadmanSeconds: 30, autoPersist: false, helperPath, connectTimeoutMs: 2000, deadmanMode: 'setsid', approvers: ['UAPPROVER'],
    });
    queue = new Queue(queueName, { connection: redis as unknown as ConnectionOptions, prefix });
    worker = new Worker(queueName, async (job) => {
      const r = await processor(job);
      results.set(String(job.id), r);
      return r;
    }, { connection: new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null }) as unknown as ConnectionOptions, prefix, concurrency: 8 });
  }, 60_000);

  afterAll(async () => {
    await worker?.close();
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis?.quit();
    await fl?.stop();
  });

  async function proposalFor(opts: { ttlMs?: number; approve?: string[]; nowMs?: number } = {}): Promise<Proposal> {
    const triageId = `t${Date.now().toString(36)}${(jobCounter += 1)}`;
    const state = new TriageStateStore(redis, prefix);
    await state.create({
      triageId, request: { host: 'server', port: 23, protocol: 'tcp', from: 'client' }, site: 'default', probes: [], channel: 'C1', ts: '1.1',
      requester: 'UREQ', createdAtMs: Date.now(), deadlineAtMs: Date.now() + 60_000, fingerprint: `fp-${triageId}`,
    });
    await state.finish(triageId, report, []);
    const store = new ProposalStore(redis, prefix, { ttlMs: opts.ttlMs ?? 900_000 });
    const fix = report.fixes.find((f) => f.kind === 'firewall')!;
    const p = await store.create({
      triageId, host: 'server', fixId: fix.id, fixTitle: fix.title, effect: fix.effect, commands: fix.commands, rulesetAfter: fix.rulesetAfter,
      ...(report.rulesetHash ? { rulesetHash: report.rulesetHash } : {}), requester: 'UREQ', channel: 'C1', ts: '1.1',
    }, opts.nowMs ?? Date.now());
    for (const u of opts.approve ?? []) await store.approve(p, u, Date.now());
    return (await store.get(p.id))!;
  }

  function jobData(p: Proposal, approvedBy: string[], kind: ChangeJobData['kind'] = 'apply'): ChangeJobData {
    return { kind, proposalId: p.id, triageId: p.triageId, host: p.host, fixId: p.fixId, requestedBy: 'UREQ', approvedBy };
  }

  async function run(data: ChangeJobData, jobId = `${data.kind}-${data.proposalId}-${(jobCounter += 1)}`): Promise<ChangeResult> {
    await queue.add(data.kind, data, { jobId });
    for (let i = 0; i < 600 && !results.has(jobId); i++) await new Promise((r) => setTimeout(r, 100));
    return results.get(jobId)!;
  }

  it('a non-approver\'s job and an expired proposal are refused, and nothing runs on the host', async () => {
    const before = await fl.serverRules();
    const pending = await proposalFor({ approve: ['UOTHER'] });
    const forged = await run(jobData(pending, ['UMALLORY']));
    expect(forged.status).toBe('refused');
    const notListed = await run(jobData(pending, ['UOTHER']));
    expect(notListed.status).toBe('refused');
    expect(notListed.message).toMatch(/approvers list/);
    const expired = await proposalFor({ ttlMs: 60_000, nowMs: Date.now() - 120_000, approve: ['UAPPROVER'] });
    expect(expired.status).toBe('expired');
    const late = await run(jobData(expired, ['UAPPROVER']));
    expect(late.status).toBe('refused');
    expect(late.code).toBe('why_blocked_proposal_expired');
    expect(normRules(await fl.serverRules())).toBe(normRules(before));
    const ls = await fl.lab.exec('server', ['ls', '/var/lib/why-blocked/backups']);
    expect(ls.stdout).not.toContain(pending.id);
    expect(ls.stdout).not.toContain(expired.id);
    const audit = await readAuditStream(redis, prefix);
    expect(audit.filter((a) => a.event === 'refusal').length).toBe(3);
  }, 60_000);

  it('twenty concurrent jobs for one approved proposal apply exactly once, and the client connects', async () => {
    const p = await proposalFor({ approve: ['UAPPROVER'] });
    const all = await Promise.all(Array.from({ length: 20 }, () => run(jobData(p, ['UAPPROVER']))));
    expect(all.filter((r) => r.status === 'succeeded').length).toBe(1);
    expect(all.filter((r) => r.status === 'refused').length).toBe(19);
    const connect = await fl.lab.exec('client', ['bash', '-c', `exec 3<>/dev/tcp/${report.target.address}/23 && echo connected`]);
    expect(connect.stdout).toMatch(/connected/);
    expect((await new ProposalStore(redis, prefix).get(p.id))!.status).toBe('applied');
    const rolled = await run(jobData(p, [], 'rollback'));
    expect(rolled.status, rolled.message).toBe('succeeded');
    const audit = await readAuditStream(redis, prefix, { host: 'server' });
    expect(audit.map((a) => a.event)).toEqual(expect.arrayContaining(['verification', 'apply', 'rollback']));
    // Approvals are the bot's to record, at click time; the worker records only what it ran or refused.
    expect(audit.filter((a) => a.event === 'approval')).toEqual([]);
  }, 120_000);
});
