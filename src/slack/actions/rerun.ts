import { asWhyBlockedError } from '../../errors.ts';
import type { BotDeps } from '../bot-deps.ts';
import { notAllowedText } from '../commands/why-blocked.ts';
import { startCheck } from '../start-check.ts';
import { readButtonClick, type ButtonArgs } from './button-click.ts';

/** "Re-run": the same request again, as a new message, never answered from the 30 s cache. */
export function createRerunAction(deps: BotDeps) {
  return async (args: ButtonArgs): Promise<void> => {
    await args.ack();
    const click = readButtonClick(args);
    const refuse = (text: string): Promise<void> => deps.web.postEphemeral(click.channel, click.user, text);
    try {
      const triage = await deps.triage.state.get(click.value);
      if (!triage) { await refuse('This check is too old to re-run; use /why-blocked again.'); return; }
      if (!(await deps.access.mayRun(click.user, click.channel))) { await refuse(notAllowedText); return; }
      await startCheck(deps, { triggerId: click.triggerId, request: triage.request, requester: click.user, channel: click.channel, reuseRecent: false });
    } catch (err) {
      deps.log.error({ err, triageId: click.value }, 're-run failed');
      await refuse(`Could not re-run the check: ${asWhyBlockedError(err).message}`).catch(() => undefined);
    }
  };
}
