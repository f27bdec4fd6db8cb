import type { AuditSink } from '../fix/audit-log.ts';
import type { Logger } from '../log/create-logger.ts';
import type { ChangeProducer } from '../queue/change-producer.ts';
import type { ProposalStore } from '../queue/proposal-store.ts';
import type { ProbePlan, ResolveHost } from '../queue/triage-ports.ts';
import type { TriageProducer } from '../queue/triage-producer.ts';
import type { AccessPolicy } from './access-policy.ts';
import type { SlackWeb } from './slack-web.ts';
import type { WorkLimiter } from './work-limiter.ts';

/** Everything a Slack handler may use. Handlers never SSH: they validate, enqueue and reply. */
export interface BotDeps {
  log: Logger;
  web: SlackWeb;
  access: AccessPolicy;
  resolveHost: ResolveHost;
  probePlan: ProbePlan;
  /** Inventory site of a host (routes probe jobs). */
  siteOf: (hostName: string) => string;
  triage: TriageProducer;
  proposals: ProposalStore;
  changes: ChangeProducer;
  /** Approvals, refusals and dismissals are recorded here; the change worker records the changes. */
  audit: AuditSink;
  /** Bounds concurrent post-ack work so acks stay fast under bursts. */
  postAck: WorkLimiter;
  now: () => number;
}
