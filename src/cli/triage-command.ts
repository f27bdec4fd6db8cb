import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.ts';
import { loadInventory } from '../config/load-inventory.ts';
import { resolveHost } from '../config/resolve-host.ts';
import { usageError } from '../errors.ts';
import type { TriageProgress } from '../probes/run-triage.ts';
import { triageHost } from '../probes/triage-host.ts';
import { SshPool } from '../remote/ssh-pool.ts';
import { renderReportText } from '../triage/render-report-text.ts';
import type { TriageReport } from '../triage/report-types.ts';
import type { CliCommand, CliIo } from './cli-command.ts';
import { parsePortArg } from './parse-port-arg.ts';

const usage = `Usage: why-blocked triage HOST PORT[/tcp] [--from HOST|IP] [--inventory FILE] [--timeout S] [--json]

Finds out why HOST refuses or drops TCP connections to PORT: reachability, listener, TCP wrappers,
every firewall backend, a live capture on the host, and the saved rules.
  --from HOST|IP   test from an inventory host (over SSH); an IP not in the inventory is used as the
                   client address for the simulation and the capture, while the live test runs here
  --inventory FILE inventory file (default: $WHY_BLOCKED_INVENTORY or ./inventory.yml)
  --timeout S      budget for the whole triage in seconds (default: $WHY_BLOCKED_TRIAGE_TIMEOUT_MS / 1000)
  --json           print the report as JSON
Exit codes: 0 diagnosed, 2 bad usage, 3 the target could not be inspected.`;

/** The JSON interface scripts rely on: field names are stable. */
export function reportJson(report: TriageReport): unknown {
  return {
    target: report.target, port: report.port, from: report.from, cause: report.cause, summary: report.summary,
    decidedBy: report.decidedBy ?? null, predictedSymptom: report.predictedSymptom ?? null, observedSymptom: report.observedSymptom ?? null,
    symptomAgrees: report.symptomAgrees ?? null, evidence: report.evidence, warnings: report.warnings,
    fixes: report.fixes.map((f) => ({ id: f.id, title: f.title, kind: f.kind, commands: f.commands, rulesetAfter: f.rulesetAfter, effect: f.effect, blastRadius: f.blastRadius, ...(f.manager ? { manager: f.manager } : {}) })),
    rulesetHash: report.rulesetHash ?? null, durationMs: report.durationMs, startedAt: report.startedAt,
  };
}

/** "✓ listener 12 ms": ✓ the check passed, ✗ it found a problem, ! it could not run. */
export function progressLine(p: TriageProgress): string {
  const mark = p.error !== undefined ? '!' : p.ok ? '✓' : '✗';
  return `${mark} ${p.probe} ${Math.round(p.durationMs)} ms${p.error !== undefined ? ` (${p.error})` : ''}`;
}

function parseTimeoutSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n) || n < 1 || n > 120) throw usageError(`--timeout must be a number of seconds from 1 to 120, got "${value}"`);
  return Math.round(n * 1000);
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      from: { type: 'string' }, inventory: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const [hostArg, portArg, ...extra] = positionals;
  if (hostArg === undefined || portArg === undefined) throw usageError('triage needs a HOST and a PORT, e.g. `why-blocked triage web01 23`');
  if (extra.length > 0) throw usageError(`unexpected arguments: ${extra.join(' ')}`);
  const port = parsePortArg(portArg);
  const config = loadConfig(io.env);
  const budgetMs = parseTimeoutSeconds(values.timeout) ?? config.WHY_BLOCKED_TRIAGE_TIMEOUT_MS;
  const inventory = loadInventory(values.inventory ?? config.WHY_BLOCKED_INVENTORY, io.cwd);
  // Resolve up front so a typo is a usage error before any connection is made.
  resolveHost(inventory, hostArg);
  if (values.from !== undefined && !/^[0-9a-fA-F:.]+$/.test(values.from)) resolveHost(inventory, values.from);

  const pool = new SshPool({ logger: io.log, resolveJump: (name) => resolveHost(inventory, name) });
  // Progress goes to a terminal only: piped or captured stderr stays free of it.
  const tty = io.stderr.isTTY === true;
  if (tty) io.stderr.write(`checking ${hostArg} ${port}/tcp${values.from ? ` from ${values.from}` : ''} …\n`);
  try {
    const report = await triageHost(
      { target: hostArg, port, ...(values.from !== undefined ? { from: values.from } : {}) },
      {
        inventory, pool, log: io.log, budgetMs, connectTimeoutMs: Math.min(config.WHY_BLOCKED_CONNECT_TIMEOUT_MS, budgetMs), signal: io.signal,
        ...(tty ? { onProgress: (p: TriageProgress) => { io.stderr.write(`${progressLine(p)}\n`); } } : {}),
      },
    );
    io.stdout.write(values.json ? `${JSON.stringify(reportJson(report), null, 2)}\n` : `${renderReportText(report)}\n`);
    return report.cause === 'ssh-unreachable' ? 3 : 0;
  } finally {
    await pool.close();
  }
}

export const triageCommand: CliCommand = {
  name: 'triage',
  summary: 'Find out why HOST PORT is blocked, with live evidence and fixes',
  usage,
  run,
};
