import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.ts';
import { usageError } from '../errors.ts';
import { serveUntilAborted, startServices } from '../queue/start-services.ts';
import type { CliCommand, CliIo } from './cli-command.ts';

const usage = `Usage: why-blocked worker [--site NAME ...]

Runs the probes of /why-blocked requests for hosts in the given inventory sites (queues
why-blocked.probes.<site>) over SSH with this machine's credentials, and assembles verdicts.
  --site NAME  a site to serve; repeat for several (default: $WHY_BLOCKED_SITES, else "default")
GET /healthz, /readyz and /metrics on WHY_BLOCKED_WORKER_PORT. Needs REDIS_URL and WHY_BLOCKED_INVENTORY.
Exit codes: 0 stopped by SIGTERM/SIGINT, 2 bad usage or configuration.`;

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { site: { type: 'string', multiple: true } }, allowPositionals: true, strict: true });
  if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`);
  const config = loadConfig(io.env, 'worker');
  const services = await startServices({ role: 'worker', config, cwd: io.cwd, log: io.log, sites: values.site ?? [] });
  io.stderr.write(`why-blocked worker: running (health on port ${services.port() ?? '-'}, also /metrics); SIGTERM or Ctrl-C stops it\n`);
  return serveUntilAborted(services, io.signal, io.log);
}

export const workerCommand: CliCommand = {
  name: 'worker',
  summary: 'Run probe workers for some inventory sites (BullMQ), plus the triage aggregation',
  usage,
  run,
};
