import { z } from 'zod';
import { ErrorCode, WhyBlockedError } from '../errors.ts';

/** Which process is starting: each needs a different subset of settings. */
export type ConfigRole = 'cli' | 'bot' | 'worker' | 'start';

const idList = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

const intIn = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Environment variables, their defaults, and how to fix each one when it is wrong. */
const fields = {
  LOG_LEVEL: { schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'), fix: 'use one of trace, debug, info, warn, error, fatal, silent' },
  LOG_FORMAT: { schema: z.enum(['auto', 'json', 'pretty']).default('auto'), fix: 'use auto, json or pretty' },
  WHY_BLOCKED_INVENTORY: { schema: z.string().min(1).default('./inventory.yml'), fix: 'set it to the path of your inventory YAML file' },
  WHY_BLOCKED_TRIAGE_TIMEOUT_MS: { schema: intIn(1000, 120_000).default(10_000), fix: 'use an integer number of milliseconds between 1000 and 120000' },
  WHY_BLOCKED_CONNECT_TIMEOUT_MS: { schema: intIn(100, 60_000).default(3000), fix: 'use an integer number of milliseconds between 100 and 60000' },
  WHY_BLOCKED_LAB_CIDR: { schema: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/(8|9|1\d|2[0-4])$/).default('10.240.0.0/16'), fix: 'use a private IPv4 range with a prefix of /8 to /24, e.g. 10.240.0.0/16' },
  WHY_BLOCKED_LAB_DIR: { schema: z.string().min(1).default('./var/lab'), fix: 'set it to a writable directory' },
  REDIS_URL: { schema: z.string().regex(/^rediss?:\/\//).optional(), fix: 'use redis://host:6379 or rediss://… (or unset it so `start` runs a private redis-server)' },
  PORT: { schema: intIn(0, 65535).default(3000), fix: 'use a TCP port number between 0 and 65535' },
  SLACK_BOT_TOKEN: { schema: z.string().regex(/^xoxb-/).optional(), fix: 'copy the Bot User OAuth Token (xoxb-…) from your Slack app\'s "OAuth & Permissions" page' },
  SLACK_SIGNING_SECRET: { schema: z.string().min(8).optional(), fix: 'copy the Signing Secret from your Slack app\'s "Basic Information" page' },
  SLACK_APP_TOKEN: { schema: z.string().regex(/^xapp-/).optional(), fix: 'create an app-level token (xapp-…) with connections:write under "Basic Information", or unset it to use HTTP' },
  SLACK_API_URL: { schema: z.url().default('https://slack.com/api/'), fix: 'use an absolute URL ending in /api/, e.g. https://slack.com/api/' },
  WHY_BLOCKED_ALLOWED: { schema: idList.default(['*']), fix: 'use a comma-separated list of U…/S…/C… IDs, or * for everyone' },
  WHY_BLOCKED_APPROVERS: { schema: idList.default([]), fix: 'use a comma-separated list of U… user IDs and S… user-group IDs' },
  WHY_BLOCKED_REQUIRED_APPROVALS: { schema: z.enum(['1', '2']).default('1').transform(Number), fix: 'use 1, or 2 for a two-person rule' },
  WHY_BLOCKED_FORBID_SELF_APPROVAL: { schema: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'), fix: 'use true or false' },
  WHY_BLOCKED_PROPOSAL_TTL_MS: { schema: intIn(60_000, 86_400_000).default(900_000), fix: 'use an integer number of milliseconds between 60000 and 86400000' },
  WHY_BLOCKED_QUEUE_PREFIX: { schema: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('bull'), fix: 'use 1-32 letters, digits, "-" or "_" (the same on the bot and every worker)' },
  WHY_BLOCKED_SITES: { schema: idList.pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i)).min(1)).default(['default']), fix: 'use a comma-separated list of inventory site names (letters, digits, "-", "_"), e.g. dc1,edge' },
  WHY_BLOCKED_WORKER_PORT: { schema: intIn(0, 65535).default(3001), fix: 'use a TCP port number between 0 and 65535 (0 picks a free one)' },
  WHY_BLOCKED_REDIS_BIN: { schema: z.string().min(1).default('redis-server'), fix: 'set it to the path of the redis-server binary' },
  WHY_BLOCKED_REDIS_DIR: { schema: z.string().min(1).default('./var/redis'), fix: 'set it to a writable directory' },
  WHY_BLOCKED_DEADMAN_SECONDS: { schema: intIn(5, 3600).default(60), fix: 'use an integer number of seconds between 5 and 3600' },
  WHY_BLOCKED_AUTO_PERSIST: { schema: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'), fix: 'use true or false' },
  WHY_BLOCKED_AUDIT_FILE: { schema: z.string().min(1).default('./var/audit.jsonl'), fix: 'set it to a writable file path' },
  WHY_BLOCKED_BOARD_USER: { schema: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/).optional(), fix: 'use 1-64 letters, digits, ".", "_", "@" or "-" (no ":"), or unset it together with WHY_BLOCKED_BOARD_PASSWORD to turn the queue board off' },
  WHY_BLOCKED_BOARD_PASSWORD: { schema: z.string().min(16).max(256).regex(/^\S(.*\S)?$/).optional(), fix: 'use at least 16 characters without leading or trailing spaces, e.g. the output of `openssl rand -base64 24`', secret: true },
  WHY_BLOCKED_CHANGE_HELPER: { schema: z.string().regex(/^\/[A-Za-z0-9_./-]+$/).default('/usr/local/libexec/why-blocked/why-blocked-change'), fix: 'use the absolute path of the installed why-blocked-change helper' },
} as const;

type Fields = typeof fields;

/** Every variable the product reads; .env.example documents exactly these. */
export const configKeys = Object.keys(fields) as Array<keyof Fields>;
export type Config = { [K in keyof Fields]: z.output<Fields[K]['schema']> };

const slackIdPattern = /^(\*|[UWSC][A-Z0-9]{2,})$/;

/**
 * Validates the whole environment at once and fails fast with every problem listed,
 * so an operator fixes the deployment in one round instead of one variable per restart.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, role: ConfigRole = 'cli'): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields)) {
    const { schema, fix } = field;
    const raw = env[key];
    const parsed = (schema as z.ZodType).safeParse(raw === '' ? undefined : raw);
    if (parsed.success) out[key] = parsed.data;
    // A password must not end up in logs through its own error message.
    else if ('secret' in field && field.secret) problems.push(`${key} (value hidden, ${raw?.length ?? 0} characters) is invalid: ${fix}.`);
    else problems.push(`${key}=${JSON.stringify(raw)} is invalid: ${fix}.`);
  }
  for (const key of ['WHY_BLOCKED_ALLOWED', 'WHY_BLOCKED_APPROVERS'] as const) {
    const ids = out[key];
    if (!Array.isArray(ids)) continue;
    const bad = ids.filter((id: string) => !slackIdPattern.test(id) || (key === 'WHY_BLOCKED_APPROVERS' && id.startsWith('C')));
    if (bad.length > 0) problems.push(`${key} has entries that are not Slack IDs: ${bad.join(', ')}; ${fields[key].fix}.`);
  }
  if (role === 'bot' || role === 'start') {
    if (out.SLACK_BOT_TOKEN === undefined && !problems.some((p) => p.startsWith('SLACK_BOT_TOKEN'))) {
      problems.push(`SLACK_BOT_TOKEN is missing: ${fields.SLACK_BOT_TOKEN.fix}.`);
    }
    if (out.SLACK_APP_TOKEN === undefined && out.SLACK_SIGNING_SECRET === undefined && !problems.some((p) => p.startsWith('SLACK_SIGNING_SECRET') || p.startsWith('SLACK_APP_TOKEN'))) {
      problems.push('SLACK_SIGNING_SECRET is missing: set it for the HTTP receiver, or set SLACK_APP_TOKEN to use Socket Mode.');
    }
  }
  if ((role === 'worker' || role === 'bot') && out.REDIS_URL === undefined && !problems.some((p) => p.startsWith('REDIS_URL'))) {
    problems.push(`REDIS_URL is missing: ${role === 'bot' ? 'the bot' : 'workers'} need${role === 'bot' ? 's' : ''} the shared Redis, e.g. redis://redis:6379 (only \`why-blocked start\` runs a private one).`);
  }
  const boardUser = env.WHY_BLOCKED_BOARD_USER ?? '';
  const boardPassword = env.WHY_BLOCKED_BOARD_PASSWORD ?? '';
  if ((boardUser === '') !== (boardPassword === '')) {
    const [set, unset] = boardUser === '' ? ['WHY_BLOCKED_BOARD_PASSWORD', 'WHY_BLOCKED_BOARD_USER'] : ['WHY_BLOCKED_BOARD_USER', 'WHY_BLOCKED_BOARD_PASSWORD'];
    problems.push(`${set} is set but ${unset} is not: set both to serve the read-only queue board at /admin/queues, or unset both to turn it off.`);
  }
  if (problems.length > 0) {
    throw new WhyBlockedError(
      ErrorCode.ConfigInvalid,
      `Configuration is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}); see .env.example:\n  - ${problems.join('\n  - ')}`,
      { details: { problems } },
    );
  }
  return out as Config;
}
