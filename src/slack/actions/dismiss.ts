import type { BotDeps } from '../bot-deps.ts';
import { auditClick } from './audit-click.ts';
import { readButtonClick, type ButtonArgs } from './button-click.ts';

/** "Dismiss": closes the message without a change; the requester or an approver may do it. */
export function createDismissAction(deps: BotDeps) {
  return async (args: ButtonArgs): Promise<void> => {
    await args.ack();
    const click = readButtonClick(args);
    const refuse = (text: string): Promise<void> => deps.web.postEphemeral(click.channel, click.user, text);
    const triage = await deps.triage.state.get(click.value);
    if (!triage) { await refuse('This check is no longer available.'); return; }
    if (click.user !== triage.requester && !(await deps.access.mayApprove(click.user))) {
      await auditClick(deps, { event: 'refusal', outcome: 'refused', user: click.user, host: triage.request.host, triageId: triage.triageId, message: 'dismiss refused: not the requester nor an approver' });
      await refuse('Only the person who ran the check or an approver can dismiss it.');
      return;
    }
    const closed = await deps.proposals.dismiss(triage.triageId, triage.proposals.map((p) => p.proposalId));
    if (!closed) { await refuse('A decision was already made on this message.'); return; }
    await auditClick(deps, { event: 'dismissal', outcome: 'ok', user: click.user, host: triage.request.host, triageId: triage.triageId, message: 'dismissed: nothing will be changed' });
    await deps.triage.state.setDecision(triage.triageId, { action: 'dismissed', by: [click.user], atMs: deps.now() });
  };
}
