import type { BotDeps } from '../bot-deps.ts';
import { createChangeFollowupAction } from './change-followup.ts';

export function createRollbackAction(deps: BotDeps) {
  return createChangeFollowupAction(deps, { kind: 'rollback', from: ['applied', 'persisted'], to: 'rolling-back', label: 'roll this change back' });
}
