/** Redis keys for bot state, namespaced under the BullMQ prefix so a test or deployment owns them all. */
export interface StateKeys {
  trigger(triggerId: string): string;
  recent(fingerprint: string): string;
  triage(triageId: string): string;
  proposal(proposalId: string): string;
  events: string;
  deadlines: string;
}

export function stateKeys(prefix: string): StateKeys {
  const base = `${prefix}:wb`;
  return {
    trigger: (triggerId) => `${base}:trigger:${triggerId}`,
    recent: (fingerprint) => `${base}:recent:${fingerprint}`,
    triage: (triageId) => `${base}:triage:${triageId}`,
    proposal: (proposalId) => `${base}:proposal:${proposalId}`,
    events: `${base}:events`,
    deadlines: `${base}:deadlines`,
  };
}
