import { setMaxListeners } from 'node:events';
import { asWhyBlockedError } from '../errors.ts';
import { assembleReport, type ProbeFailureInput } from '../triage/assemble-report.ts';
import type { EvidenceItem, ProbeName, TriageReport } from '../triage/report-types.ts';
import { createTriageProbes, type TriageProbeDeps, type TriageProbeRequest } from './triage-probes.ts';

/** One probe's result as it lands, for progress displays; evidence still goes into the report. */
export interface TriageProgress {
  probe: ProbeName;
  ok: boolean;
  durationMs: number;
  /** Set when the probe could not run at all. */
  error?: string;
}

export interface RunTriageDeps extends TriageProbeDeps {
  /** Whole-triage budget. @defaultValue 10000 */
  budgetMs?: number;
  /** Called as each probe finishes (a display must never break the triage: throws are ignored). */
  onProgress?: (progress: TriageProgress) => void;
}

/** Longest the other probes wait for the live test to claim its channels first. */
const liveTestHeadStartMs = 500;

function whenAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

const probeOrder: ProbeName[] = ['reach', 'connect', 'listener', 'local-connect', 'tcp-wrappers', 'firewall', 'capture', 'persistence'];

/**
 * One triage in one process: every probe concurrently (the connect is the one the capture
 * triggers), bounded by the budget, then the pure report. A probe still running at the deadline
 * is reported as not finished; nothing here throws for a probe's sake.
 */
export async function runTriage(request: TriageProbeRequest, deps: RunTriageDeps): Promise<TriageReport> {
  const startedAtMs = deps.now();
  const budgetMs = deps.budgetMs ?? 10_000;
  const controller = new AbortController();
  setMaxListeners(100, controller.signal);
  const budgetTimer = setTimeout(() => controller.abort(new Error(`triage budget of ${budgetMs} ms used up`)), budgetMs);
  const onOuterAbort = (): void => controller.abort(deps.signal?.reason);
  deps.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const connectTimeoutMs = Math.min(deps.connectTimeoutMs ?? 3000, Math.max(500, budgetMs - 3000));
  const probes = createTriageProbes(request, { ...deps, connectTimeoutMs, signal: controller.signal });
  const evidence: EvidenceItem[] = [];
  const failures: ProbeFailureInput[] = [];
  const report = (progress: TriageProgress): void => {
    try { deps.onProgress?.(progress); } catch { /* progress is cosmetic */ }
  };
  const record = (probe: ProbeName, p: Promise<EvidenceItem | EvidenceItem[]>): Promise<void> => p.then(
    (e) => {
      const items = Array.isArray(e) ? e : [e];
      evidence.push(...items);
      for (const item of items) report({ probe: item.probe, ok: item.ok, durationMs: item.durationMs });
    },
    (err: unknown) => {
      const message = asWhyBlockedError(err).message;
      failures.push({ probe, message });
      report({ probe, ok: false, durationMs: deps.now() - startedAtMs, error: message });
    },
  );
  try {
    const live = record(deps.target.startStreaming ? 'capture' : 'connect', probes.runLiveTest());
    // A head start, not a dependency: a vantage that is slow to answer must not hold the rest up.
    let gateTimer: NodeJS.Timeout | undefined;
    await Promise.race([probes.liveTestArmed, whenAborted(controller.signal), new Promise((resolve) => { gateTimer = setTimeout(resolve, liveTestHeadStartMs); })]);
    clearTimeout(gateTimer);
    const all = Promise.all([
      live,
      // Channels are granted first come, first served: the local connect holds its channel longest
      // (it waits to see whether the service closes at once), the TCP-wrappers chain is three steps
      // long and starts from the listener, the firewall dumps feed the verdict, and persistence only
      // adds a warning.
      ...(['local-connect', 'listener', 'tcp-wrappers', 'firewall', 'reach', 'persistence'] as const).map((p) => record(p, probes.run(p))),
    ]);
    await Promise.race([all, whenAborted(controller.signal)]);
  } finally {
    clearTimeout(budgetTimer);
    deps.signal?.removeEventListener('abort', onOuterAbort);
  }
  const done = [...evidence];
  const failed = [...failures];
  if (controller.signal.aborted) {
    for (const p of probeOrder) {
      if (!done.some((e) => e.probe === p) && !failed.some((f) => f.probe === p)) failed.push({ probe: p, message: `did not finish within the ${budgetMs} ms budget` });
    }
  }
  done.sort((a, b) => probeOrder.indexOf(a.probe) - probeOrder.indexOf(b.probe));
  const target = { host: deps.target.name, port: request.port, protocol: 'tcp' as const, ...(request.from !== undefined ? { from: request.from } : {}) };
  return assembleReport(target, done, failed, {
    nowMs: deps.now(), startedAtMs, ...(deps.synthesizeFixes ? { synthesizeFixes: deps.synthesizeFixes } : {}),
  });
}
