import type { AllMiddlewareArgs, RespondFn, SlackCommandMiddlewareArgs, SlashCommand } from '@slack/bolt';
import { asWhyBlockedError, ErrorCode } from '../../errors.ts';
import type { BotDeps } from '../bot-deps.ts';
import { startCheck } from '../start-check.ts';
import { buildReusedTriageMessage } from '../views/reused-triage-message.ts';
import { usageErrorText, usageText } from '../views/usage-message.ts';
import { parseCommand, type ParsedCommand } from './parse-command.ts';
import { resolveCommand } from './resolve-command.ts';

export const notAllowedText = 'Sorry, you are not on the list of people who may run `/why-blocked` here. Ask your on-call lead to add you (or this channel) to WHY_BLOCKED_ALLOWED.';

/** Slack error codes the user can fix themselves get a specific instruction. */
function startFailureText(err: unknown): string {
  const slackError = (err as { data?: { error?: unknown } }).data?.error;
  if (slackError === 'not_in_channel' || slackError === 'channel_not_found') {
    return '⚠️ I cannot post in this channel. Invite me first (`/invite @why-blocked`), then run the command again. Nothing was run.';
  }
  return `⚠️ Could not start the check: ${asWhyBlockedError(err).message}. Nothing was run.`;
}

/** After the ack: authorize, resolve against the inventory, then post the live message and enqueue. */
async function afterAck(deps: BotDeps, command: SlashCommand, respond: RespondFn, parsed: Extract<ParsedCommand, { kind: 'check' }>): Promise<void> {
  const log = deps.log.child({ user: command.user_id, channel: command.channel_id, triggerId: command.trigger_id });
  const reply = (text: string, blocks?: unknown[]): Promise<unknown> =>
    respond({ response_type: 'ephemeral', replace_original: true, text, ...(blocks ? { blocks: blocks as never } : {}) });
  try {
    if (!(await deps.access.mayRun(command.user_id, command.channel_id))) {
      log.info('refused: not allowed');
      await reply(notAllowedText);
      return;
    }
    let resolved;
    try {
      resolved = resolveCommand(parsed, deps.resolveHost);
    } catch (err) {
      const e = asWhyBlockedError(err);
      if (e.code !== ErrorCode.Usage) throw e;
      await reply(usageErrorText(e.message));
      return;
    }
    const result = await startCheck(deps, {
      triggerId: command.trigger_id, request: resolved.request, requester: command.user_id, channel: command.channel_id, reuseRecent: true,
    });
    if (result.kind === 'reused') {
      const message = buildReusedTriageMessage(result.triage, deps.now());
      await reply(message.text, message.blocks);
    } else if (result.kind === 'duplicate-trigger') {
      log.info('duplicate trigger ignored');
    } else {
      log.info({ triageId: result.triageId, host: resolved.request.host, port: resolved.request.port }, 'triage started');
    }
  } catch (err) {
    log.error({ err }, 'could not start triage');
    await reply(startFailureText(err)).catch(() => undefined);
  }
}

/** `/why-blocked`: syntax errors and help are answered in the ack itself; everything else after it. Never touches a host. */
export function createWhyBlockedCommand(deps: BotDeps) {
  return async ({ command, ack, respond }: SlackCommandMiddlewareArgs & AllMiddlewareArgs): Promise<void> => {
    let parsed: ParsedCommand;
    try {
      parsed = parseCommand(command.text ?? '');
    } catch (err) {
      await ack({ response_type: 'ephemeral', text: usageErrorText(asWhyBlockedError(err).message) });
      return;
    }
    if (parsed.kind === 'help') {
      await ack({ response_type: 'ephemeral', text: usageText });
      return;
    }
    await ack({ response_type: 'ephemeral', text: `Checking ${parsed.host} ${parsed.port}/tcp…` });
    const check = parsed;
    await deps.postAck.run(() => afterAck(deps, command, respond, check));
  };
}
