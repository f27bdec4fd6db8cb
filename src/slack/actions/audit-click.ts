import type { AuditEvent, AuditRecord } from '../../fix/audit-log.ts';
import type { Proposal } from '../../queue/proposal-store.ts';
import type { BotDeps } from '../bot-deps.ts';

export interface ClickAuditInput {
  event: Extract<AuditEvent, 'approval' | 'refusal' | 'dismissal'>;
  outcome: AuditRecord['outcome'];
  user: string;
  /** The proposal the click was about, when it still exists. */
  proposal?: Proposal;
  host?: string;
  triageId?: string;
  approvedBy?: string[];
  message: string;
}

/**
 * Records a decision taken in Slack. The trail must not depend on Slack's own history, but a
 * failed write must not turn a refusal into an error either: the worker records every change it
 * makes, so a lost bot-side record loses the "who clicked" line, never a change.
 */
export async function auditClick(deps: Pick<BotDeps, 'audit' | 'log'>, input: ClickAuditInput): Promise<void> {
  const p = input.proposal;
  try {
    await deps.audit.record({
      event: input.event, outcome: input.outcome, by: input.user,
      host: p?.host ?? input.host ?? 'unknown',
      ...(p ? { proposalId: p.id, triageId: p.triageId } : input.triageId ? { triageId: input.triageId } : {}),
      ...(p?.rulesetHash ? { hashBefore: p.rulesetHash } : {}),
      ...(input.approvedBy ? { approvedBy: input.approvedBy } : {}),
      message: input.message,
    });
  } catch (err) {
    deps.log.error({ err, event: input.event, user: input.user }, 'could not write the audit record');
  }
}
