import type { Logger } from '../log/create-logger.ts';
import type { EvidenceItem, ProbeName, TriageReport } from '../triage/report-types.ts';
import type { InventoryHost } from '../config/inventory-types.ts';
import type { TriageRequest } from './job-schemas.ts';

// The triage engine and probes live elsewhere; the queue and the bot only see these ports.

/** Which probes to run for a request, in display order. */
export type ProbePlan = (request: TriageRequest) => ProbeName[];

export interface ProbeContext {
  signal: AbortSignal;
  log: Logger;
  /** The triage this probe belongs to: probes of one triage may share steps (one firewall dump, one listener check). */
  triageId?: string;
}

/** Runs one probe; resolves with evidence (a failed check is `ok: false`), throws only when it could not run. */
export type RunProbe = (name: ProbeName, request: TriageRequest, ctx: ProbeContext) => Promise<EvidenceItem>;

export interface ProbeFailure {
  probe: ProbeName;
  message: string;
}

export type AssembleReport = (request: TriageRequest, evidence: EvidenceItem[], failures: ProbeFailure[]) => TriageReport;

/** Inventory lookup by name, alias or address; throws WhyBlockedError UnknownHost with suggestions. */
export type ResolveHost = (input: string) => InventoryHost;
