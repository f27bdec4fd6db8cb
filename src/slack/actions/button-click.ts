import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from '@slack/bolt';

export type ButtonArgs = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

export interface ButtonClick {
  user: string;
  channel: string;
  value: string;
  triggerId: string;
}

/** The fields every button handler needs, read from a block_actions payload. */
export function readButtonClick(args: ButtonArgs): ButtonClick {
  const { body, action } = args;
  const value = action.type === 'button' ? action.value ?? '' : '';
  return { user: body.user.id, channel: body.channel?.id ?? body.container?.channel_id ?? '', value, triggerId: body.trigger_id };
}
