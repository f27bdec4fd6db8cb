import type { App } from '@slack/bolt';
import { actionIds } from './action-ids.ts';
import { createApplyAction } from './actions/apply.ts';
import { createDismissAction } from './actions/dismiss.ts';
import { createMakePermanentAction } from './actions/make-permanent.ts';
import { createRerunAction } from './actions/rerun.ts';
import { createRollbackAction } from './actions/rollback.ts';
import type { BotDeps } from './bot-deps.ts';
import { createWhyBlockedCommand } from './commands/why-blocked.ts';

export const slashCommand = '/why-blocked';

/** Wiring only: which Slack id goes to which handler. */
export function registerHandlers(app: App, deps: BotDeps): void {
  app.command(slashCommand, createWhyBlockedCommand(deps));
  app.action({ type: 'block_actions', action_id: actionIds.apply }, createApplyAction(deps));
  app.action({ type: 'block_actions', action_id: actionIds.dismiss }, createDismissAction(deps));
  app.action({ type: 'block_actions', action_id: actionIds.rerun }, createRerunAction(deps));
  app.action({ type: 'block_actions', action_id: actionIds.makePermanent }, createMakePermanentAction(deps));
  app.action({ type: 'block_actions', action_id: actionIds.rollback }, createRollbackAction(deps));
}
