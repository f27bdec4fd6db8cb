import type { WhyBlockedMetrics } from './create-metrics.ts';

/** The part of a change job's result (src/fix ChangeResult) the outcome label is derived from. */
export interface ChangeOutcomeLike {
  kind: string;
  status: 'succeeded' | 'failed' | 'refused';
  /** How the backup came back after a failed verification. */
  restored?: 'immediately' | 'by-deadman' | 'not-restored';
}

/** succeeded | refused | rolled_back (failed, and the backup came back) | failed (and it did not). */
export function changeOutcome(result: ChangeOutcomeLike): string {
  if (result.status !== 'failed') return result.status;
  return result.restored === 'immediately' || result.restored === 'by-deadman' ? 'rolled_back' : 'failed';
}

/**
 * Wraps the change processor so every finished job is counted where its outcome is returned,
 * without the processor knowing about metrics; a job that throws counts as `error`.
 */
export function observeChangeOutcomes<J extends { data?: unknown }, R extends ChangeOutcomeLike>(
  processor: (job: J) => Promise<R>,
  metrics: Pick<WhyBlockedMetrics, 'observeApply'>,
): (job: J) => Promise<R> {
  return async (job) => {
    try {
      const result = await processor(job);
      metrics.observeApply({ kind: result.kind, outcome: changeOutcome(result) });
      return result;
    } catch (err) {
      const kind = (job.data as { kind?: unknown } | undefined)?.kind;
      metrics.observeApply({ kind: typeof kind === 'string' ? kind : 'unknown', outcome: 'error' });
      throw err;
    }
  };
}
