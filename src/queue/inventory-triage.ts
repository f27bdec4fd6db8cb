import type { Inventory } from '../config/inventory-types.ts';
import { resolveHost } from '../config/resolve-host.ts';
import { synthesizeFixesWithAnalyzer } from '../probes/analyzer-adapters.ts';
import { buildTriageProbeDeps } from '../probes/triage-host.ts';
import { createTriageProbes, type TriageProbes } from '../probes/triage-probes.ts';
import type { SshPool } from '../remote/ssh-pool.ts';
import { assembleReport } from '../triage/assemble-report.ts';
import type { ProbeName } from '../triage/report-types.ts';
import type { TriageRequest } from './job-schemas.ts';
import type { AssembleReport, ProbeContext, ProbePlan, ResolveHost, RunProbe } from './triage-ports.ts';

// With a capture the live connect runs inside the capture job (it is what the capture watches);
// without sudo there is no capture, so the connect is a job of its own.
const withCapture: ProbeName[] = ['reach', 'listener', 'local-connect', 'tcp-wrappers', 'firewall', 'capture', 'persistence'];
const withoutCapture: ProbeName[] = ['reach', 'connect', 'listener', 'local-connect', 'tcp-wrappers', 'firewall', 'persistence'];

/** The bot's view of the triage engine: inventory lookups and which probe jobs a request needs. */
export function inventoryTriagePlanning(inventory: Inventory): { resolveHost: ResolveHost; probePlan: ProbePlan } {
  const resolve: ResolveHost = (input) => resolveHost(inventory, input);
  return {
    resolveHost: resolve,
    probePlan: (request) => {
      const host = resolve(request.host);
      return host.ssh.sudo || host.ssh.user === 'root' ? withCapture : withoutCapture;
    },
  };
}

export interface InventoryProbeRunnerDeps {
  inventory: Inventory;
  pool: SshPool;
  connectTimeoutMs: number;
  now?: () => number;
  /** How long the probes of one triage share their steps in this process. @defaultValue 60000 */
  shareForMs?: number;
}

/**
 * The worker's RunProbe: the same probes the CLI runs, one per job, over the worker's own SSH pool
 * and credentials. Jobs of one triage that land in this process share one probe set, as in the
 * CLI: the firewall dump, the listener check and the client address are fetched once, not once
 * per job (persistence needs the firewall dump, tcp-wrappers the listener).
 */
export function inventoryRunProbe(deps: InventoryProbeRunnerDeps): RunProbe {
  const shared = new Map<string, TriageProbes>();
  const probesFor = (request: TriageRequest, ctx: ProbeContext): TriageProbes => {
    const make = (signal: AbortSignal): TriageProbes => {
      const wiring = buildTriageProbeDeps(
        { target: request.host, port: request.port, ...(request.from !== undefined ? { from: request.from } : {}) },
        { inventory: deps.inventory, pool: deps.pool, log: ctx.log, connectTimeoutMs: deps.connectTimeoutMs, signal, ...(deps.now ? { now: deps.now } : {}) },
      );
      return createTriageProbes(wiring.request, wiring.deps);
    };
    if (ctx.triageId === undefined) return make(ctx.signal);
    const found = shared.get(ctx.triageId);
    if (found) return found;
    // One job's timeout must not cancel the steps its siblings share; the set ends with its lifetime.
    const lifetime = new AbortController();
    const probes = make(lifetime.signal);
    shared.set(ctx.triageId, probes);
    const id = ctx.triageId;
    setTimeout(() => { shared.delete(id); lifetime.abort(new Error('triage probe set expired')); }, deps.shareForMs ?? 60_000).unref();
    return probes;
  };
  return async (name, request, ctx) => {
    const probes = probesFor(request, ctx);
    try {
      return await probes.run(name);
    } catch (err) {
      // Shared steps remember failures; a retry must start from scratch, so later jobs get a new set.
      if (ctx.triageId !== undefined && shared.get(ctx.triageId) === probes) shared.delete(ctx.triageId);
      throw err;
    }
  };
}

/** The parent job's aggregation: the pure triage engine with the analyzer's fix synthesis. */
export function analyzerAssembleReport(now: () => number = Date.now): AssembleReport {
  return (request, evidence, failures) => assembleReport(
    { host: request.host, port: request.port, protocol: 'tcp', ...(request.from !== undefined ? { from: request.from } : {}) },
    evidence, failures, { nowMs: now(), synthesizeFixes: synthesizeFixesWithAnalyzer },
  );
}

/** Sites named in the inventory: the probe queues a bot expects workers on. */
export function inventorySites(inventory: Inventory): string[] {
  return [...new Set([...inventory.hosts.values()].map((h) => h.site))].sort();
}

