import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.ts';
import { usageError } from '../errors.ts';
import { serveUntilAborted, startServices } from '../queue/start-services.ts';
import type { CliCommand, CliIo } from './cli-command.ts';

const usage = `Usage: why-blocked start [--site NAME ...]

Runs the Slack bot and workers for every inventory site (or only the --site ones) in one
process. Without REDIS_URL it starts a private redis-server (loopback only, AOF, data in
$WHY_BLOCKED_REDIS_DIR, default ./var/redis) and stops it on exit.
  --site NAME  serve only this site's probes; repeat for several (default: every inventory site)
Slack events, /healthz, /readyz, /metrics and (when configured) the read-only board /admin/queues on PORT.
Exit codes: 0 stopped by SIGTERM/SIGINT, 2 bad usage or configuration.`;

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { site: { type: 'string', multiple: true } }, allowPositionals: true, strict: true });
  if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`);
  const config = loadConfig(io.env, 'start');
  const services = await startServices({ role: 'start', config, cwd: io.cwd, log: io.log, sites: values.site ?? [] });
  io.stderr.write(`why-blocked start: running (health on port ${services.port() ?? '-'}, also /metrics); SIGTERM or Ctrl-C stops it\n`);
  return serveUntilAborted(services, io.signal, io.log);
}

export const startCommand: CliCommand = {
  name: 'start',
  summary: 'Run the bot and the workers in one process (npm start)',
  usage,
  run,
};
