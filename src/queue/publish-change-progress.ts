import type { Redis } from 'ioredis';
import { ProposalStore, type ProposalStatus } from './proposal-store.ts';
import { TriageStateStore, type ChangeProgress } from './triage-state-store.ts';

const onSuccess: Record<ChangeProgress['kind'], ProposalStatus> = { apply: 'applied', persist: 'persisted', rollback: 'rolled-back' };
const onFailure: Record<ChangeProgress['kind'], ProposalStatus> = { apply: 'apply-failed', persist: 'applied', rollback: 'applied' };

/**
 * For the change (apply/persist/rollback) worker: record progress of a job on
 * `why-blocked.changes`. The bot's message updater shows it on the findings message;
 * workers never call Slack themselves.
 */
export async function publishChangeProgress(redis: Redis, prefix: string, triageId: string, progress: ChangeProgress): Promise<void> {
  const state = new TriageStateStore(redis, prefix);
  if (progress.status === 'succeeded' || progress.status === 'failed') {
    const proposals = new ProposalStore(redis, prefix);
    const to = progress.status === 'succeeded' ? onSuccess[progress.kind] : onFailure[progress.kind];
    await proposals.transition(progress.proposalId, ['approved', 'applied', 'persisting', 'persisted', 'rolling-back'], to);
  }
  await state.setChange(triageId, progress);
}
