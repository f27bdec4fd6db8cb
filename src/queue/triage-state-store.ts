import type { Redis } from 'ioredis';
import type { ProbeName, TriageReport } from '../triage/report-types.ts';
import type { ChangeKind, TriageRequest } from './job-schemas.ts';
import { stateKeys, type StateKeys } from './state-keys.ts';

export type TriageStatus = 'running' | 'done' | 'failed' | 'timed-out';

export interface ProbeProgress {
  probe: ProbeName;
  ok: boolean;
  durationMs: number;
  summary: string;
  finishedAt: number;
}

/** Who decided what on a findings message; rendered in place of the buttons. */
export interface TriageDecision {
  action: 'approved' | 'dismissed';
  by: string[];
  atMs: number;
  proposalId?: string;
  fixTitle?: string;
}

/** Progress of an apply / persist / rollback job, written by the change worker through publishChange. */
export interface ChangeProgress {
  proposalId: string;
  kind: ChangeKind;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  by: string;
  step?: string;
  message?: string;
  atMs: number;
}

export interface ProposalRef { fixId: string; proposalId: string }

export interface TriageState {
  triageId: string;
  request: TriageRequest;
  site: string;
  probes: ProbeName[];
  channel: string;
  ts: string;
  requester: string;
  createdAtMs: number;
  deadlineAtMs: number;
  status: TriageStatus;
  fingerprint: string;
  progress: ProbeProgress[];
  report?: TriageReport;
  proposals: ProposalRef[];
  error?: string;
  decision?: TriageDecision;
  /** Pending approvals so far (two-approver mode), shown under the buttons. */
  approvalsSoFar?: { proposalId: string; by: string[] };
  change?: ChangeProgress;
  rawPosted: boolean;
}

export type NewTriage = Pick<TriageState, 'triageId' | 'request' | 'site' | 'probes' | 'channel' | 'ts' | 'requester' | 'createdAtMs' | 'deadlineAtMs' | 'fingerprint'>;

const retentionMs = 7 * 24 * 3600 * 1000;
/** Identical requests finished less than this long ago are answered with the same triage. */
export const reuseWindowMs = 30_000;
const eventsMaxLen = 10_000;

/**
 * The one place triage state lives. Workers write here and publish an event; only the bot's
 * message updater turns state into Slack messages.
 */
export class TriageStateStore {
  readonly keys: StateKeys;

  constructor(private readonly redis: Redis, prefix: string) {
    this.keys = stateKeys(prefix);
  }

  async create(t: NewTriage): Promise<void> {
    const key = this.keys.triage(t.triageId);
    await this.redis.multi()
      .hset(key, {
        triageId: t.triageId, request: JSON.stringify(t.request), site: t.site, probes: JSON.stringify(t.probes),
        channel: t.channel, ts: t.ts, requester: t.requester, createdAtMs: String(t.createdAtMs),
        deadlineAtMs: String(t.deadlineAtMs), status: 'running', fingerprint: t.fingerprint,
      })
      .pexpire(key, retentionMs)
      .zadd(this.keys.deadlines, t.deadlineAtMs, t.triageId)
      .exec();
  }

  async get(triageId: string): Promise<TriageState | undefined> {
    const h = await this.redis.hgetall(this.keys.triage(triageId));
    if (!h.triageId) return undefined;
    const progress = Object.entries(h)
      .filter(([k]) => k.startsWith('probe:'))
      .map(([, v]) => JSON.parse(v) as ProbeProgress)
      .sort((a, b) => a.finishedAt - b.finishedAt);
    const parse = <T>(v: string | undefined): T | undefined => (v === undefined ? undefined : JSON.parse(v) as T);
    const state: TriageState = {
      triageId: h.triageId,
      request: JSON.parse(h.request ?? '{}') as TriageRequest,
      site: h.site ?? '',
      probes: JSON.parse(h.probes ?? '[]') as ProbeName[],
      channel: h.channel ?? '',
      ts: h.ts ?? '',
      requester: h.requester ?? '',
      createdAtMs: Number(h.createdAtMs),
      deadlineAtMs: Number(h.deadlineAtMs),
      status: (h.status ?? 'running') as TriageStatus,
      fingerprint: h.fingerprint ?? '',
      progress,
      proposals: parse<ProposalRef[]>(h.proposals) ?? [],
      rawPosted: h.rawPosted === '1',
    };
    const report = parse<TriageReport>(h.report);
    if (report) state.report = report;
    if (h.error !== undefined) state.error = h.error;
    const decision = parse<TriageDecision>(h.decision);
    if (decision) state.decision = decision;
    const approvals = parse<{ proposalId: string; by: string[] }>(h.approvalsSoFar);
    if (approvals) state.approvalsSoFar = approvals;
    const change = parse<ChangeProgress>(h.change);
    if (change) state.change = change;
    return state;
  }

  async recordProbe(triageId: string, p: ProbeProgress): Promise<void> {
    await this.redis.hset(this.keys.triage(triageId), `probe:${p.probe}`, JSON.stringify(p));
    await this.publish(triageId, 'probe');
  }

  async finish(triageId: string, report: TriageReport, proposals: ProposalRef[]): Promise<void> {
    await this.redis.multi()
      .hset(this.keys.triage(triageId), { status: 'done', report: JSON.stringify(report), proposals: JSON.stringify(proposals) })
      .zrem(this.keys.deadlines, triageId)
      .exec();
    await this.startReuseWindow(triageId);
    await this.publish(triageId, 'done');
  }

  /** `timed-out` comes from the watchdog; a late verdict may still replace it afterwards. */
  async fail(triageId: string, status: 'failed' | 'timed-out', error: string): Promise<void> {
    const key = this.keys.triage(triageId);
    // A verdict that already landed wins over a late failure notice.
    const current = await this.redis.hget(key, 'status');
    if (current === 'done') return;
    await this.redis.multi().hset(key, { status, error }).zrem(this.keys.deadlines, triageId).exec();
    // A failed check must not be "reused": the next identical request should try again.
    await this.releaseFingerprint(triageId);
    await this.publish(triageId, status);
  }

  async setDecision(triageId: string, decision: TriageDecision): Promise<void> {
    await this.redis.hset(this.keys.triage(triageId), 'decision', JSON.stringify(decision));
    await this.publish(triageId, 'decision');
  }

  async setApprovalsSoFar(triageId: string, proposalId: string, by: string[]): Promise<void> {
    await this.redis.hset(this.keys.triage(triageId), 'approvalsSoFar', JSON.stringify({ proposalId, by }));
    await this.publish(triageId, 'approval');
  }

  async setChange(triageId: string, change: ChangeProgress): Promise<void> {
    await this.redis.hset(this.keys.triage(triageId), 'change', JSON.stringify(change));
    await this.publish(triageId, 'change');
  }

  /** True exactly once per triage: the raw-output thread reply is posted by whoever wins. */
  async claimRawPost(triageId: string): Promise<boolean> {
    return (await this.redis.hsetnx(this.keys.triage(triageId), 'rawPosted', '1')) === 1;
  }

  /** Triage ids whose deadline passed; ZREM makes each claim exclusive across bot processes. */
  async claimOverdue(nowMs: number): Promise<string[]> {
    const due = await this.redis.zrangebyscore(this.keys.deadlines, '-inf', nowMs);
    const claimed: string[] = [];
    for (const id of due) {
      if ((await this.redis.zrem(this.keys.deadlines, id)) === 1) claimed.push(id);
    }
    return claimed;
  }

  async publish(triageId: string, type: string): Promise<void> {
    await this.redis.xadd(this.keys.events, 'MAXLEN', '~', String(eventsMaxLen), '*', 'triageId', triageId, 'type', type);
  }

  private async releaseFingerprint(triageId: string): Promise<void> {
    const fingerprint = await this.redis.hget(this.keys.triage(triageId), 'fingerprint');
    if (!fingerprint) return;
    const key = this.keys.recent(fingerprint);
    if ((await this.redis.get(key)) === triageId) await this.redis.del(key);
  }

  private async startReuseWindow(triageId: string): Promise<void> {
    const fingerprint = await this.redis.hget(this.keys.triage(triageId), 'fingerprint');
    if (!fingerprint) return;
    const key = this.keys.recent(fingerprint);
    if ((await this.redis.get(key)) === triageId) await this.redis.pexpire(key, reuseWindowMs);
  }
}
