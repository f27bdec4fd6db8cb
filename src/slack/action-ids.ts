/** action_ids of every interactive element; register.ts maps each to its handler. */
export const actionIds = {
  apply: 'wb_apply',
  dismiss: 'wb_dismiss',
  rerun: 'wb_rerun',
  makePermanent: 'wb_make_permanent',
  rollback: 'wb_rollback',
} as const;
