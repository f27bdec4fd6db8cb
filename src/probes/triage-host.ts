import { isIP } from 'node:net';
import type { Inventory, InventoryHost } from '../config/inventory-types.ts';
import { normalizeAddress } from '../config/load-inventory.ts';
import { resolveHost } from '../config/resolve-host.ts';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { Logger } from '../log/create-logger.ts';
import { localExec } from '../remote/local-exec.ts';
import type { SshPool } from '../remote/ssh-pool.ts';
import type { TriageReport } from '../triage/report-types.ts';
import { explainFlowWithAnalyzer, synthesizeFixesWithAnalyzer } from './analyzer-adapters.ts';
import type { RunCommand } from './ports.ts';
import { runTriage, type TriageProgress } from './run-triage.ts';
import type { TriageProbeDeps, TriageProbeRequest } from './triage-probes.ts';
import { createSshStreaming } from './ssh-streaming.ts';

export interface TriageHostRequest {
  /** Inventory name, alias or address of the host that should accept the connection. */
  target: string;
  port: number;
  /** Inventory host to test from, or an IP literal (used for the simulation and the capture filter). */
  from?: string;
}

export interface TriageHostDeps {
  inventory: Inventory;
  pool: SshPool;
  log: Logger;
  budgetMs: number;
  connectTimeoutMs: number;
  signal?: AbortSignal;
  now?: () => number;
  /** Each probe's outcome as it finishes (the CLI's progress lines on a terminal). */
  onProgress?: (progress: TriageProgress) => void;
}

/** Which of the host's addresses to test: the one the operator typed, else the first listed. */
function targetAddress(host: InventoryHost, input: string): string {
  const typed = isIP(input.trim()) !== 0 ? normalizeAddress(input.trim()) : undefined;
  const address = typed && host.addresses.includes(typed) ? typed : host.addresses[0];
  if (address === undefined) throw new WhyBlockedError(ErrorCode.InventoryInvalid, `host "${host.name}" has no address in the inventory`);
  return address;
}

function sshRunner(pool: SshPool, host: InventoryHost, log: Logger): RunCommand {
  return (cmd, options) => pool.exec(host, cmd, { log, ...(options?.signal ? { signal: options.signal } : {}), ...(options?.urgent ? { urgent: true } : {}) });
}

export interface TriageProbeWiringDeps {
  inventory: Inventory;
  pool: SshPool;
  log: Logger;
  connectTimeoutMs: number;
  signal?: AbortSignal;
  now?: () => number;
}

export interface TriageProbeWiring {
  /** The inventory host being triaged. */
  host: InventoryHost;
  request: TriageProbeRequest;
  deps: TriageProbeDeps;
}

/**
 * Resolves target and vantage through the inventory and wires the probes to SSH and to this
 * machine. Shared by the CLI (one process runs every probe) and the queue worker (one job per probe).
 */
export function buildTriageProbeDeps(request: TriageHostRequest, deps: TriageProbeWiringDeps): TriageProbeWiring {
  const host = resolveHost(deps.inventory, request.target);
  const log = deps.log.child({ host: host.name });
  let vantage: InventoryHost | undefined;
  let fromIp: string | undefined;
  if (request.from !== undefined) {
    if (isIP(request.from) !== 0) {
      try { vantage = resolveHost(deps.inventory, request.from); } catch { fromIp = request.from; }
    } else {
      vantage = resolveHost(deps.inventory, request.from);
    }
  }
  const canSudo = host.ssh.sudo || host.ssh.user === 'root';
  return {
    host,
    request: { port: request.port, ...(vantage ? { from: vantage.name } : fromIp ? { from: fromIp } : {}) },
    deps: {
      target: {
        name: host.name,
        address: targetAddress(host, request.target),
        run: sshRunner(deps.pool, host, log),
        startStreaming: createSshStreaming(deps.pool, host),
        canSudo,
      },
      ...(vantage ? { vantage: { name: vantage.name, run: sshRunner(deps.pool, vantage, deps.log.child({ host: vantage.name })) } } : {}),
      runLocal: (cmd, options) => localExec(cmd, { log, ...(options?.signal ? { signal: options.signal } : {}) }),
      explain: explainFlowWithAnalyzer,
      synthesizeFixes: synthesizeFixesWithAnalyzer,
      now: deps.now ?? (() => Date.now()),
      connectTimeoutMs: deps.connectTimeoutMs,
      ...(deps.signal ? { signal: deps.signal } : {}),
    },
  };
}

/**
 * The one triage entry point behind every door (CLI, demo, bot): resolve names through the
 * inventory, wire the probes to SSH and to this machine, and run them within the budget.
 */
export async function triageHost(request: TriageHostRequest, deps: TriageHostDeps): Promise<TriageReport> {
  const wiring = buildTriageProbeDeps(request, deps);
  return runTriage(wiring.request, { ...wiring.deps, budgetMs: deps.budgetMs, ...(deps.onProgress ? { onProgress: deps.onProgress } : {}) });
}
