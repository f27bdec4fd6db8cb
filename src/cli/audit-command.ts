import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadConfig } from '../config/load-config.ts';
import { usageError } from '../errors.ts';
import { readAuditFile, readAuditStream, type AuditQuery, type AuditRecord } from '../fix/audit-log.ts';
import type { CliCommand, CliIo } from './cli-command.ts';

const usage = `Usage:
  why-blocked audit [--host H] [--since T] [--json] [--file F]

Prints the change audit trail: proposals, approvals, refusals, applies, verifications, rollbacks and
persists, with who, when, the host, ruleset hashes before/after and the rule diff.
Reads the Redis stream when REDIS_URL is set, else the JSON-lines file (WHY_BLOCKED_AUDIT_FILE).

  --since T   an ISO time (2026-11-24T10:00Z) or an age: 30m, 12h, 7d
  --file F    read this JSON-lines file instead of Redis`;

const ageUnitsMs: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseSince(text: string, nowMs: number): number {
  const age = /^(\d{1,6})([smhd])$/.exec(text.trim());
  if (age) return nowMs - Number(age[1]) * ageUnitsMs[age[2]!]!;
  const t = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(t)) throw usageError(`--since "${text}" is neither an ISO time nor an age like 30m, 12h, 7d`);
  return t;
}

export function renderAuditLine(r: AuditRecord): string {
  const hashes = r.hashBefore || r.hashAfter ? ` [${(r.hashBefore ?? '-').slice(7, 19)} → ${(r.hashAfter ?? '-').slice(7, 19)}]` : '';
  const head = `${r.at} ${r.event.padEnd(12)} ${r.outcome.padEnd(7)} ${r.host} by ${r.by}${r.approvedBy?.length ? ` (approved: ${r.approvedBy.join(', ')})` : ''}${r.proposalId ? ` ${r.proposalId}` : ''}${hashes}`;
  return [head, `    ${r.message}`, ...(r.diff ?? []).slice(0, 20).map((d) => `    ${d}`)].join('\n');
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args, options: { host: { type: 'string' }, since: { type: 'string' }, json: { type: 'boolean', default: false }, file: { type: 'string' } },
    allowPositionals: true, strict: true,
  });
  if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`);
  const config = loadConfig(io.env);
  const query: AuditQuery = {
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(values.since !== undefined ? { sinceMs: parseSince(values.since, Date.now()) } : {}),
  };
  let records: AuditRecord[];
  if (values.file === undefined && config.REDIS_URL !== undefined) {
    const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      records = await readAuditStream(redis, config.WHY_BLOCKED_QUEUE_PREFIX, query);
    } finally {
      redis.disconnect();
    }
  } else {
    records = await readAuditFile(values.file ?? config.WHY_BLOCKED_AUDIT_FILE, query);
  }
  if (values.json) io.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
  else io.stdout.write(records.length === 0 ? 'no audit records match\n' : `${records.map(renderAuditLine).join('\n')}\n`);
  return 0;
}

export const auditCommand: CliCommand = { name: 'audit', summary: 'Show who changed which firewall, when, and how', usage, run };
