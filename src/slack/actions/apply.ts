import { asWhyBlockedError } from '../../errors.ts';
import type { BotDeps } from '../bot-deps.ts';
import { auditClick } from './audit-click.ts';
import { readButtonClick, type ButtonArgs } from './button-click.ts';

const refusals = {
  missing: 'This fix is no longer available. Press Re-run for a fresh diagnosis.',
  expired: 'This fix proposal has expired, so nothing was changed. Press Re-run for a fresh diagnosis.',
  'self-approval': 'You asked for this check, so someone else has to approve its fix.',
  'already-approved': 'You already approved this fix; it needs another approver.',
  'not-pending': 'This fix was already decided; nothing more to do.',
  decided: 'A decision was already made on this message; nothing more to do.',
} as const;

/** "Apply: …": record an approval; the click that completes it enqueues exactly one apply job. */
export function createApplyAction(deps: BotDeps) {
  return async (args: ButtonArgs): Promise<void> => {
    await args.ack();
    const click = readButtonClick(args);
    const log = deps.log.child({ user: click.user, proposalId: click.value, action: 'apply' });
    const refuse = (text: string): Promise<void> => deps.web.postEphemeral(click.channel, click.user, text);
    try {
      const proposal = await deps.proposals.get(click.value);
      if (!proposal) {
        await auditClick(deps, { event: 'refusal', outcome: 'refused', user: click.user, message: `apply of ${click.value} refused: ${refusals.missing}` });
        await refuse(refusals.missing);
        return;
      }
      // Bolt verified Slack's signature; who may change firewalls is ours to check.
      if (!(await deps.access.mayApprove(click.user))) {
        log.info('refused: not an approver');
        await auditClick(deps, { event: 'refusal', outcome: 'refused', user: click.user, proposal, message: `apply refused: ${click.user} is not an approver (WHY_BLOCKED_APPROVERS)` });
        await refuse(`Only configured approvers may apply fixes (WHY_BLOCKED_APPROVERS). Nothing was changed on ${proposal.host}.`);
        return;
      }
      const nowMs = deps.now();
      const { outcome, approvers } = await deps.proposals.approve(proposal, click.user, nowMs);
      log.info({ outcome }, 'apply click');
      if (outcome === 'recorded') {
        await auditClick(deps, { event: 'approval', outcome: 'ok', user: click.user, proposal, approvedBy: approvers,
          message: `approval ${approvers.length} of ${deps.proposals.requiredApprovals(proposal)} for ${proposal.fixTitle}` });
        await deps.triage.state.setApprovalsSoFar(proposal.triageId, proposal.id, approvers);
        await refuse(`Your approval is recorded. ${deps.proposals.requiredApprovals(proposal) - approvers.length} more approver needed before ${proposal.host} is changed.`);
        return;
      }
      if (outcome !== 'approved') {
        await auditClick(deps, { event: 'refusal', outcome: 'refused', user: click.user, proposal, message: `apply refused: ${refusals[outcome]}` });
        await refuse(refusals[outcome]);
        return;
      }
      await auditClick(deps, { event: 'approval', outcome: 'ok', user: click.user, proposal, approvedBy: approvers,
        message: `approved ${proposal.fixTitle}: ${proposal.commands.join(' && ')}` });
      await deps.triage.state.setDecision(proposal.triageId, {
        action: 'approved', by: approvers, atMs: nowMs, proposalId: proposal.id, fixTitle: `${proposal.fixTitle} on ${proposal.host}`,
      });
      try {
        const data = {
          kind: 'apply' as const, proposalId: proposal.id, triageId: proposal.triageId, host: proposal.host, fixId: proposal.fixId,
          requestedBy: proposal.requester, approvedBy: approvers, ...(proposal.rulesetHash === undefined ? {} : { rulesetHash: proposal.rulesetHash }),
        };
        await deps.changes.enqueue(data);
        await deps.triage.state.setChange(proposal.triageId, { proposalId: proposal.id, kind: 'apply', status: 'queued', by: click.user, atMs: nowMs });
      } catch (err) {
        log.error({ err }, 'approved but could not enqueue apply');
        await deps.triage.state.setChange(proposal.triageId, {
          proposalId: proposal.id, kind: 'apply', status: 'failed', by: click.user, atMs: deps.now(),
          message: 'could not queue the change (Redis unavailable?); nothing was changed',
        });
      }
    } catch (err) {
      log.error({ err }, 'apply click failed');
      await refuse(`Something went wrong; nothing was changed: ${asWhyBlockedError(err).message}`).catch(() => undefined);
    }
  };
}
