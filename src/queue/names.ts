import { usageError } from '../errors.ts';

/** Parent triage jobs: run anywhere, no SSH, they only aggregate probe results. */
export const triageQueueName = 'why-blocked.triage';

/** Apply / persist / rollback jobs; the processor belongs to the safe-apply work. */
export const changesQueueName = 'why-blocked.changes';

export const jobNames = {
  triage: 'triage',
  probe: 'probe',
} as const;

const sitePattern = /^[a-z0-9][a-z0-9_-]{0,62}$/i;

/** Probe jobs run only on workers that sit in the target's network, so the queue is per site. */
export function probeQueueName(site: string): string {
  if (!sitePattern.test(site)) {
    throw usageError(`Inventory site "${site}" is not a valid site name: use letters, digits, "-" or "_" (max 63).`);
  }
  return `why-blocked.probes.${site}`;
}
