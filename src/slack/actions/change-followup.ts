import { asWhyBlockedError } from '../../errors.ts';
import type { ChangeKind } from '../../queue/job-schemas.ts';
import type { ProposalStatus } from '../../queue/proposal-store.ts';
import type { BotDeps } from '../bot-deps.ts';
import { auditClick } from './audit-click.ts';
import { readButtonClick, type ButtonArgs } from './button-click.ts';

export interface FollowupSpec {
  kind: Exclude<ChangeKind, 'apply'>;
  from: ProposalStatus[];
  to: ProposalStatus;
  label: string;
}

/** Make permanent / Rollback after an apply: approver only, one job per proposal and kind. */
export function createChangeFollowupAction(deps: BotDeps, spec: FollowupSpec) {
  return async (args: ButtonArgs): Promise<void> => {
    await args.ack();
    const click = readButtonClick(args);
    const refuse = (text: string): Promise<void> => deps.web.postEphemeral(click.channel, click.user, text);
    try {
      const proposal = await deps.proposals.get(click.value);
      if (!proposal) { await refuse('This change is no longer available.'); return; }
      if (!(await deps.access.mayApprove(click.user))) {
        await auditClick(deps, { event: 'refusal', outcome: 'refused', user: click.user, proposal, message: `${spec.kind} refused: ${click.user} is not an approver (WHY_BLOCKED_APPROVERS)` });
        await refuse(`Only configured approvers may ${spec.label} (WHY_BLOCKED_APPROVERS). Nothing was changed on ${proposal.host}.`);
        return;
      }
      if (!(await deps.proposals.transition(proposal.id, spec.from, spec.to))) {
        await auditClick(deps, { event: 'refusal', outcome: 'refused', user: click.user, proposal, message: `${spec.kind} refused: the change is ${proposal.status}` });
        await refuse(`Cannot ${spec.label} now: the change is ${proposal.status}.`);
        return;
      }
      await auditClick(deps, { event: 'approval', outcome: 'ok', user: click.user, proposal, approvedBy: [click.user], message: `${spec.kind} requested for ${proposal.fixTitle}` });
      await deps.changes.enqueue({
        kind: spec.kind, proposalId: proposal.id, triageId: proposal.triageId, host: proposal.host, fixId: proposal.fixId,
        requestedBy: click.user, approvedBy: [click.user], ...(proposal.rulesetHash === undefined ? {} : { rulesetHash: proposal.rulesetHash }),
      });
      await deps.triage.state.setChange(proposal.triageId, { proposalId: proposal.id, kind: spec.kind, status: 'queued', by: click.user, atMs: deps.now() });
    } catch (err) {
      deps.log.error({ err, proposalId: click.value, kind: spec.kind }, 'follow-up click failed');
      await refuse(`Something went wrong; nothing was changed: ${asWhyBlockedError(err).message}`).catch(() => undefined);
    }
  };
}
