import type { BotDeps } from '../bot-deps.ts';
import { createChangeFollowupAction } from './change-followup.ts';

export function createMakePermanentAction(deps: BotDeps) {
  return createChangeFollowupAction(deps, { kind: 'persist', from: ['applied'], to: 'persisting', label: 'make this change permanent' });
}
