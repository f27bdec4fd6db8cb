import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Inventory } from '../config/inventory-types.ts';
import { ErrorCode } from '../errors.ts';
import type { Logger } from '../log/create-logger.ts';
import { changeJobDataSchema, type ChangeJobData } from '../queue/job-schemas.ts';
import { ProposalStore, type Proposal } from '../queue/proposal-store.ts';
import { publishChangeProgress } from '../queue/publish-change-progress.ts';
import { TriageStateStore } from '../queue/triage-state-store.ts';
import type { SshPool } from '../remote/ssh-pool.ts';
import type { TriageReport } from '../triage/report-types.ts';
import type { AuditSink } from './audit-log.ts';
import { redisBackupStore } from './backup-store.ts';
import { changeCommands, type DeadmanMode } from './change-commands.ts';
import { ChangeEngine, type ChangeRequest, type ChangeResult } from './change-engine.ts';
import { redisHostLock } from './host-lock.ts';

export interface ChangeProcessorDeps {
  /** A normal (non-blocking) connection: locks, proposals, backups, progress, the audit stream. */
  redis: Redis;
  /** BullMQ/state prefix (WHY_BLOCKED_QUEUE_PREFIX). */
  prefix: string;
  log: Logger;
  /** Called per job, so an edited inventory file is picked up without a restart. */
  inventory: () => Inventory;
  pool: SshPool;
  audit: AuditSink;
  deadmanSeconds: number;
  autoPersist: boolean;
  helperPath: string;
  connectTimeoutMs: number;
  /** WHY_BLOCKED_APPROVERS: when it lists only user IDs, every approver of the job must be in it. */
  approvers?: string[];
  deadmanMode?: DeadmanMode;
  now?: () => number;
}

const claimTtlSeconds = 30 * 86_400;

/** Why the stored proposal does not allow this job, or undefined when it does. */
export function refusalFor(data: ChangeJobData, p: Proposal | undefined, nowMs: number, approvers: string[] = []): string | undefined {
  if (!p) return 'The proposal no longer exists (it expired from storage); run the triage again.';
  if (p.host !== data.host || p.fixId !== data.fixId || p.triageId !== data.triageId) return 'The job does not match the stored proposal; nothing was run.';
  if (data.kind === 'apply') {
    if (p.status === 'expired' || (p.status === 'pending' && nowMs >= p.expiresAtMs)) return 'The proposal expired before it was approved; run the triage again.';
    if (p.status !== 'approved') return `The proposal is ${p.status}, not approved; nothing was run.`;
    if (data.approvedBy.length === 0 || data.approvedBy.some((u) => !p.approvers.includes(u))) return 'The job names approvers the proposal does not record; nothing was run.';
    if (p.approvers.length < p.requiredApprovals) return `The proposal needs ${p.requiredApprovals} approvals and has ${p.approvers.length}.`;
    if (p.forbidSelfApproval && p.approvers.includes(p.requester)) return 'The requester may not approve their own fix.';
    const checkable = approvers.length > 0 && !approvers.includes('*') && approvers.every((a) => /^[UW]/.test(a));
    if (checkable && p.approvers.some((u) => !approvers.includes(u))) return 'An approver is not on the approvers list (WHY_BLOCKED_APPROVERS); nothing was run.';
  } else if (data.kind === 'persist') {
    // The bot moves the proposal to `persisting` when it enqueues the job, so that one click wins.
    if (p.status !== 'applied' && p.status !== 'persisting') return `Only an applied fix can be made permanent; this one is ${p.status}.`;
  } else if (p.status !== 'applied' && p.status !== 'persisted' && p.status !== 'rolling-back') {
    return `Only an applied fix can be rolled back; this one is ${p.status}.`;
  }
  return undefined;
}

export function flowFromReport(report: TriageReport): ChangeRequest['flow'] {
  const from = report.from;
  return {
    targetAddress: report.target.address, port: report.port,
    ...(from.address ? { clientAddress: from.address } : {}),
    ...(from.kind === 'inventory-host' && from.name ? { fromHost: from.name } : {}),
    ...(from.kind === 'address' ? { noVantage: true } : {}),
  };
}

/**
 * The processor for `why-blocked.changes` jobs. Everything it runs comes from the proposal stored
 * server-side, re-checked here (status, approvers, expiry) before anything touches the host.
 */
export function createChangeProcessor(deps: ChangeProcessorDeps): (job: Job<ChangeJobData>) => Promise<ChangeResult> {
  const now = deps.now ?? Date.now;
  const proposals = new ProposalStore(deps.redis, deps.prefix);
  const state = new TriageStateStore(deps.redis, deps.prefix);
  const backups = redisBackupStore(deps.redis, deps.prefix);
  const lock = redisHostLock(deps.redis, deps.prefix);
  const commands = changeCommands({ helperPath: deps.helperPath });

  return async (job) => {
    const data = changeJobDataSchema.parse(job.data);
    const log = deps.log.child({ jobId: job.id, kind: data.kind, proposalId: data.proposalId, host: data.host });
    const by = data.kind === 'apply' ? (data.approvedBy[data.approvedBy.length - 1] ?? data.requestedBy) : data.requestedBy;
    const progress = (status: 'running' | 'succeeded' | 'failed', message: string, step?: string) =>
      publishChangeProgress(deps.redis, deps.prefix, data.triageId, { proposalId: data.proposalId, kind: data.kind, status, by, message, atMs: now(), ...(step ? { step } : {}) });
    const refuse = async (message: string, code: ErrorCode = ErrorCode.NotAuthorized): Promise<ChangeResult> => {
      log.warn({ message }, 'change refused');
      await deps.audit.record({ event: 'refusal', outcome: 'refused', by, approvedBy: data.approvedBy, host: data.host, proposalId: data.proposalId, triageId: data.triageId, message });
      // Shown on the message, but the proposal's status is left alone: a forged or duplicate job
      // must not be able to mark a good proposal failed.
      await state.setChange(data.triageId, { proposalId: data.proposalId, kind: data.kind, status: 'failed', by, message, atMs: now() });
      return { kind: data.kind, status: 'refused', code, message };
    };

    const proposal = await proposals.get(data.proposalId);
    const refusal = refusalFor(data, proposal, now(), deps.approvers);
    if (refusal || !proposal) return refuse(refusal ?? 'missing proposal', /expired/.test(refusal ?? '') ? ErrorCode.ProposalExpired : ErrorCode.NotAuthorized);
    // Exactly once per (kind, proposal), whatever BullMQ redelivers: a half-done apply is the
    // dead-man's to undo, never a blind second run.
    const claimed = await deps.redis.set(`${deps.prefix}:wb:change-claim:${data.kind}:${data.proposalId}`, String(job.id), 'EX', claimTtlSeconds, 'NX');
    if (claimed !== 'OK') return refuse(`This ${data.kind} already ran (or is running); the dead-man switch undoes an interrupted apply. Check the host, then re-run the triage.`);
    const report = (await state.get(data.triageId))?.report;
    if (!report) return refuse('The triage behind this proposal is gone, so the fix cannot be verified; run the triage again.');

    const engine = new ChangeEngine({
      inventory: deps.inventory(), pool: deps.pool, log, audit: deps.audit, lock, backups, commands,
      deadmanSeconds: deps.deadmanSeconds, connectTimeoutMs: deps.connectTimeoutMs,
      ...(deps.deadmanMode ? { deadmanMode: deps.deadmanMode } : {}),
      onStep: (step, message) => { void progress('running', message, step).catch((err: unknown) => log.warn({ err }, 'progress not recorded')); },
    });
    const request: ChangeRequest = {
      kind: data.kind,
      proposal: { id: proposal.id, host: proposal.host, commands: proposal.commands, rulesetAfter: proposal.rulesetAfter, triageId: proposal.triageId, ...(proposal.rulesetHash ? { rulesetHash: proposal.rulesetHash } : {}), ...(proposal.manager ? { manager: proposal.manager } : {}) },
      flow: flowFromReport(report), by, approvedBy: proposal.approvers,
    };
    let result = await engine.run(request);
    await progress(result.status === 'succeeded' ? 'succeeded' : 'failed', result.message);
    if (result.status === 'succeeded' && data.kind === 'apply' && deps.autoPersist) {
      const persisted = await engine.run({ ...request, kind: 'persist' });
      await publishChangeProgress(deps.redis, deps.prefix, data.triageId, {
        proposalId: data.proposalId, kind: 'persist', status: persisted.status === 'succeeded' ? 'succeeded' : 'failed', by, message: persisted.message, atMs: now(),
      });
      result = { ...result, message: `${result.message}\n${persisted.message}` };
    }
    return result;
  };
}
