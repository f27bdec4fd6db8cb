import type { Job } from 'bullmq';
import type { AuditSink } from '../fix/audit-log.ts';
import type { Logger } from '../log/create-logger.ts';
import type { WhyBlockedMetrics } from '../metrics/create-metrics.ts';
import type { EvidenceItem, ProbeName } from '../triage/report-types.ts';
import { triageJobDataSchema } from './job-schemas.ts';
import { proposalAuditDiff } from './proposal-audit-diff.ts';
import type { ProposalStore } from './proposal-store.ts';
import type { AssembleReport, ProbeFailure } from './triage-ports.ts';
import type { ProposalRef, TriageStateStore } from './triage-state-store.ts';

export interface TriageProcessorDeps {
  assembleReport: AssembleReport;
  state: TriageStateStore;
  proposals: ProposalStore;
  log: Logger;
  now: () => number;
  /** Every proposal made is recorded (who asked, the host, the hash it was computed on, the diff). */
  audit?: AuditSink;
  /** Triages by cause and their duration, from enqueue (the parent job's creation) to verdict. */
  metrics?: Pick<WhyBlockedMetrics, 'observeTriage'>;
}

/** Child keys are `<prefix>:<queue>:<jobId>` and child job ids are `<triageId>-<probe>`. */
function probeFromKey(key: string, triageId: string): ProbeName {
  const jobId = key.slice(key.lastIndexOf(':') + 1);
  return jobId.slice(triageId.length + 1) as ProbeName;
}

export function createTriageProcessor(deps: TriageProcessorDeps) {
  return async (job: Job): Promise<{ cause: string }> => {
    const data = triageJobDataSchema.parse(job.data);
    const values = await job.getChildrenValues<EvidenceItem>();
    const ignored = await job.getIgnoredChildrenFailures();
    const evidence = data.probes
      .map((probe) => Object.entries(values).find(([key]) => probeFromKey(key, data.triageId) === probe)?.[1])
      .filter((e): e is EvidenceItem => e !== undefined);
    const failures: ProbeFailure[] = Object.entries(ignored).map(([key, message]) => ({ probe: probeFromKey(key, data.triageId), message: String(message) }));
    const report = deps.assembleReport(data.request, evidence, failures);

    const triage = await deps.state.get(data.triageId);
    const refs: ProposalRef[] = [];
    if (triage) {
      const nowMs = deps.now();
      for (const fix of report.fixes.filter((f) => f.kind === 'firewall')) {
        const proposal = await deps.proposals.create({
          triageId: data.triageId, host: fix.host, fixId: fix.id, fixTitle: fix.title, effect: fix.effect, commands: fix.commands,
          rulesetAfter: fix.rulesetAfter, ...(report.rulesetHash === undefined ? {} : { rulesetHash: report.rulesetHash }),
          ...(fix.manager ? { manager: fix.manager } : {}),
          requester: triage.requester, channel: triage.channel, ts: triage.ts,
        }, nowMs);
        refs.push({ fixId: fix.id, proposalId: proposal.id });
        await deps.audit?.record({
          event: 'proposal', outcome: 'ok', by: triage.requester, host: fix.host, proposalId: proposal.id, triageId: data.triageId,
          ...(report.rulesetHash === undefined ? {} : { hashBefore: report.rulesetHash }),
          diff: proposalAuditDiff(report, fix), message: `proposed ${fix.title}: ${fix.effect}`,
        });
      }
    }
    await deps.state.finish(data.triageId, report, refs);
    deps.metrics?.observeTriage({ cause: report.cause, durationMs: deps.now() - job.timestamp, outcome: 'completed' });
    deps.log.info({ triageId: data.triageId, cause: report.cause, failures: failures.length }, 'triage finished');
    return { cause: report.cause };
  };
}
