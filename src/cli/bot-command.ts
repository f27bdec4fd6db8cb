import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.ts';
import { usageError } from '../errors.ts';
import { serveUntilAborted, startServices } from '../queue/start-services.ts';
import type { CliCommand, CliIo } from './cli-command.ts';

const usage = `Usage: why-blocked bot

Runs the Slack app: /why-blocked commands and the Apply/Dismiss/Re-run buttons. It enqueues
triage jobs in Redis; \`why-blocked worker\` processes run the probes.
  Socket Mode when SLACK_APP_TOKEN is set, else the HTTP receiver on PORT (POST /slack/events,
  SLACK_SIGNING_SECRET). GET /healthz, /readyz and /metrics (Prometheus) on PORT, and the read-only
  queue board under /admin/queues when WHY_BLOCKED_BOARD_USER and WHY_BLOCKED_BOARD_PASSWORD are set.
Needs SLACK_BOT_TOKEN, REDIS_URL and WHY_BLOCKED_INVENTORY (see .env.example).
Exit codes: 0 stopped by SIGTERM/SIGINT, 2 bad usage or configuration.`;

async function run(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true, strict: true });
  if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`);
  const config = loadConfig(io.env, 'bot');
  const services = await startServices({ role: 'bot', config, cwd: io.cwd, log: io.log });
  io.stderr.write(`why-blocked bot: running (health on port ${services.port() ?? '-'}, also /metrics); SIGTERM or Ctrl-C stops it\n`);
  return serveUntilAborted(services, io.signal, io.log);
}

export const botCommand: CliCommand = {
  name: 'bot',
  summary: 'Run the Slack bot (Bolt; Socket Mode with SLACK_APP_TOKEN, else HTTP on PORT)',
  usage,
  run,
};
