import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Redis } from 'ioredis';

export type AuditEvent = 'proposal' | 'approval' | 'refusal' | 'dismissal' | 'apply' | 'verification' | 'rollback' | 'persist' | 'deadman';

export interface AuditRecord {
  at: string;
  atMs: number;
  event: AuditEvent;
  outcome: 'ok' | 'failed' | 'refused';
  /** Slack user (or `demo`, `cli`) who asked for it. */
  by: string;
  approvedBy?: string[];
  host: string;
  proposalId?: string;
  triageId?: string;
  hashBefore?: string;
  hashAfter?: string;
  /** Rule lines removed (`-`) and added (`+`). */
  diff?: string[];
  message: string;
}

export interface AuditQuery {
  host?: string;
  sinceMs?: number;
  limit?: number;
}

export interface AuditSink {
  record(entry: Omit<AuditRecord, 'at' | 'atMs'>): Promise<AuditRecord>;
}

export function auditStreamKey(prefix: string): string {
  return `${prefix}:wb:audit`;
}

/**
 * Append-only audit trail: a Redis stream (durable under AOF, shared by every worker) and a local
 * JSON-lines file that survives a lost Redis. Records are never edited or deleted here.
 */
export class AuditLog implements AuditSink {
  constructor(private readonly options: { redis?: Redis; prefix?: string; file?: string; now?: () => number }) {}

  async record(entry: Omit<AuditRecord, 'at' | 'atMs'>): Promise<AuditRecord> {
    const atMs = (this.options.now ?? Date.now)();
    const full: AuditRecord = { at: new Date(atMs).toISOString(), atMs, ...entry };
    const line = JSON.stringify(full);
    const { redis, file } = this.options;
    await Promise.all([
      redis ? redis.xadd(auditStreamKey(this.options.prefix ?? 'bull'), '*', 'record', line) : undefined,
      file ? mkdir(dirname(file), { recursive: true }).then(() => appendFile(file, `${line}\n`, { mode: 0o600 })) : undefined,
    ]);
    return full;
  }
}

export function filterAudit(records: AuditRecord[], q: AuditQuery): AuditRecord[] {
  const out = records.filter((r) => (q.host === undefined || r.host === q.host) && (q.sinceMs === undefined || r.atMs >= q.sinceMs));
  return q.limit !== undefined ? out.slice(-q.limit) : out;
}

export async function readAuditStream(redis: Redis, prefix: string, q: AuditQuery = {}): Promise<AuditRecord[]> {
  const entries = await redis.xrange(auditStreamKey(prefix), q.sinceMs !== undefined ? `${q.sinceMs}-0` : '-', '+');
  const records = entries.flatMap(([, fields]) => {
    const i = fields.indexOf('record');
    try { return i >= 0 ? [JSON.parse(fields[i + 1]!) as AuditRecord] : []; } catch { return []; }
  });
  return filterAudit(records, q);
}

export async function readAuditFile(file: string, q: AuditQuery = {}): Promise<AuditRecord[]> {
  let text = '';
  try { text = await readFile(file, 'utf8'); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const records = text.split('\n').flatMap((l) => {
    if (l.trim() === '') return [];
    try { return [JSON.parse(l) as AuditRecord]; } catch { return []; }
  });
  return filterAudit(records, q);
}
