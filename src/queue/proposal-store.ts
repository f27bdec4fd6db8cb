import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ManagedFix } from '../triage/report-types.ts';
import { stateKeys, type StateKeys } from './state-keys.ts';

export type ProposalStatus =
  | 'pending' | 'approved' | 'dismissed' | 'expired' | 'superseded'
  | 'applied' | 'apply-failed' | 'persisting' | 'persisted' | 'rolling-back' | 'rolled-back';

/** A fix offered on a findings message. The button carries only `id`; everything else stays here. */
export interface Proposal {
  id: string;
  triageId: string;
  host: string;
  fixId: string;
  fixTitle: string;
  effect: string;
  commands: string[];
  rulesetAfter: string;
  rulesetHash?: string;
  /** The fix as a firewalld/ufw wish; absent for raw rulesets (and proposals stored before it existed). */
  manager?: ManagedFix;
  requester: string;
  channel: string;
  ts: string;
  createdAtMs: number;
  expiresAtMs: number;
  status: ProposalStatus;
  approvers: string[];
  requiredApprovals: number;
  forbidSelfApproval: boolean;
}

export interface ProposalPolicy {
  /** How long the Apply button stays valid. @defaultValue 900000 (15 min) */
  ttlMs?: number;
  /** 1, or 2 for a two-person rule. @defaultValue 1 */
  requiredApprovals?: number;
  /** The person who ran /why-blocked may not approve its fix. @defaultValue false */
  forbidSelfApproval?: boolean;
}

export type NewProposal = Omit<Proposal, 'id' | 'createdAtMs' | 'expiresAtMs' | 'status' | 'approvers' | 'requiredApprovals' | 'forbidSelfApproval'>;

export type ApproveOutcome = 'approved' | 'recorded' | 'expired' | 'self-approval' | 'already-approved' | 'not-pending' | 'decided' | 'missing';

// One script, so that checking and recording an approval cannot interleave with another click:
// twenty simultaneous clicks yield exactly one 'approved'.
const approveScript = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', ''} end
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'pending' then return {'not-pending', status} end
local decided = redis.call('HGET', KEYS[2], 'decidedProposal')
if decided and decided ~= ARGV[1] then return {'decided', decided} end
-- The strictest of the stored policy (set by the worker that created it) and the caller's wins.
local expiresAt = tonumber(redis.call('HGET', KEYS[1], 'expiresAtMs'))
local ttlExpiry = tonumber(redis.call('HGET', KEYS[1], 'createdAtMs')) + tonumber(ARGV[4])
if ttlExpiry < expiresAt then expiresAt = ttlExpiry end
if tonumber(ARGV[3]) >= expiresAt then
  redis.call('HSET', KEYS[1], 'status', 'expired')
  return {'expired', ''}
end
if (redis.call('HGET', KEYS[1], 'forbidSelfApproval') == '1' or ARGV[6] == '1') and redis.call('HGET', KEYS[1], 'requester') == ARGV[2] then
  return {'self-approval', ''}
end
local approvers = redis.call('HGET', KEYS[1], 'approvers')
for u in string.gmatch(approvers, '[^,]+') do
  if u == ARGV[2] then return {'already-approved', approvers} end
end
if approvers == '' then approvers = ARGV[2] else approvers = approvers .. ',' .. ARGV[2] end
redis.call('HSET', KEYS[1], 'approvers', approvers)
local count = 0
for _ in string.gmatch(approvers, '[^,]+') do count = count + 1 end
local required = math.max(tonumber(redis.call('HGET', KEYS[1], 'requiredApprovals')), tonumber(ARGV[5]))
if count >= required then
  redis.call('HSET', KEYS[1], 'status', 'approved', 'decidedAtMs', ARGV[3])
  redis.call('HSET', KEYS[2], 'decidedProposal', ARGV[1])
  return {'approved', approvers}
end
return {'recorded', approvers}
`;

// Compare-and-set on status; ARGV[1] is a comma list of allowed current statuses.
const transitionScript = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == status then redis.call('HSET', KEYS[1], 'status', ARGV[2]); return 1 end
end
return 0
`;

// Dismiss closes the whole message: only if no fix was approved yet.
const dismissScript = `
local decided = redis.call('HGET', KEYS[1], 'decidedProposal')
if decided then return 0 end
redis.call('HSET', KEYS[1], 'decidedProposal', 'dismissed')
for i = 2, #KEYS do
  if redis.call('HGET', KEYS[i], 'status') == 'pending' then redis.call('HSET', KEYS[i], 'status', 'dismissed') end
end
return 1
`;

const retentionMs = 7 * 24 * 3600 * 1000;
const defaultTtlMs = 15 * 60_000;

export class ProposalStore {
  readonly keys: StateKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly policy: ProposalPolicy = {},
    private readonly newId: () => string = () => `prop-${randomBytes(12).toString('hex')}`,
  ) {
    this.keys = stateKeys(prefix);
  }

  async create(p: NewProposal, nowMs: number): Promise<Proposal> {
    const proposal: Proposal = {
      ...p,
      id: this.newId(),
      createdAtMs: nowMs,
      expiresAtMs: nowMs + (this.policy.ttlMs ?? defaultTtlMs),
      status: 'pending',
      approvers: [],
      requiredApprovals: this.policy.requiredApprovals ?? 1,
      forbidSelfApproval: this.policy.forbidSelfApproval ?? false,
    };
    const key = this.keys.proposal(proposal.id);
    const fields: Record<string, string> = {
      id: proposal.id, triageId: p.triageId, host: p.host, fixId: p.fixId, fixTitle: p.fixTitle, effect: p.effect,
      commands: JSON.stringify(p.commands), rulesetAfter: p.rulesetAfter, requester: p.requester, channel: p.channel, ts: p.ts,
      createdAtMs: String(proposal.createdAtMs), expiresAtMs: String(proposal.expiresAtMs), status: 'pending', approvers: '',
      requiredApprovals: String(proposal.requiredApprovals), forbidSelfApproval: proposal.forbidSelfApproval ? '1' : '0',
    };
    if (p.rulesetHash !== undefined) fields.rulesetHash = p.rulesetHash;
    if (p.manager !== undefined) fields.manager = JSON.stringify(p.manager);
    await this.redis.multi().hset(key, fields).pexpire(key, retentionMs).exec();
    return proposal;
  }

  async get(id: string): Promise<Proposal | undefined> {
    if (!/^prop-[a-f0-9]{1,64}$/.test(id)) return undefined;
    const h = await this.redis.hgetall(this.keys.proposal(id));
    if (!h.id) return undefined;
    const proposal: Proposal = {
      id: h.id, triageId: h.triageId ?? '', host: h.host ?? '', fixId: h.fixId ?? '', fixTitle: h.fixTitle ?? '', effect: h.effect ?? '',
      commands: JSON.parse(h.commands ?? '[]') as string[], rulesetAfter: h.rulesetAfter ?? '', requester: h.requester ?? '',
      channel: h.channel ?? '', ts: h.ts ?? '', createdAtMs: Number(h.createdAtMs), expiresAtMs: Number(h.expiresAtMs),
      status: (h.status ?? 'pending') as ProposalStatus, approvers: (h.approvers ?? '').split(',').filter(Boolean),
      requiredApprovals: Number(h.requiredApprovals ?? 1), forbidSelfApproval: h.forbidSelfApproval === '1',
    };
    if (h.rulesetHash !== undefined) proposal.rulesetHash = h.rulesetHash;
    if (h.manager !== undefined) proposal.manager = JSON.parse(h.manager) as ManagedFix;
    return proposal;
  }

  /**
   * Records `user`'s approval atomically. The policy applied is the stricter of the one stored on
   * the proposal (by the worker that created it) and this store's, so bot and worker configs cannot
   * weaken each other.
   */
  async approve(proposal: Pick<Proposal, 'id' | 'triageId'>, user: string, nowMs: number): Promise<{ outcome: ApproveOutcome; approvers: string[] }> {
    const [outcome, approvers] = await this.redis.eval(
      approveScript, 2, this.keys.proposal(proposal.id), this.keys.triage(proposal.triageId), proposal.id, user, String(nowMs),
      String(this.policy.ttlMs ?? defaultTtlMs), String(this.policy.requiredApprovals ?? 1), this.policy.forbidSelfApproval ? '1' : '0',
    ) as [ApproveOutcome, string];
    return { outcome, approvers: outcome === 'approved' || outcome === 'recorded' || outcome === 'already-approved' ? approvers.split(',').filter(Boolean) : [] };
  }

  /** Approvals needed for `proposal` under the stricter of its stored policy and this store's. */
  requiredApprovals(proposal: Pick<Proposal, 'requiredApprovals'>): number {
    return Math.max(proposal.requiredApprovals, this.policy.requiredApprovals ?? 1);
  }

  async transition(id: string, from: ProposalStatus[], to: ProposalStatus): Promise<boolean> {
    return (await this.redis.eval(transitionScript, 1, this.keys.proposal(id), from.join(','), to)) === 1;
  }

  async dismiss(triageId: string, proposalIds: string[]): Promise<boolean> {
    const keys = [this.keys.triage(triageId), ...proposalIds.map((id) => this.keys.proposal(id))];
    return (await this.redis.eval(dismissScript, keys.length, ...keys)) === 1;
  }
}
