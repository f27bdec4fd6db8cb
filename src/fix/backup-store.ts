import type { Redis } from 'ioredis';
import type { ManagedFix } from '../triage/report-types.ts';
import type { ChangeBackend } from './change-commands.ts';

/** What an apply leaves behind for rollback and persist to check against. */
export interface ChangeRecord {
  proposalId: string;
  host: string;
  backend: ChangeBackend;
  /** Exactly what the host's backup file holds. */
  backupText: string;
  hashBefore: string;
  /** Running-rules hash right after a verified apply; rollback and persist compare against it. */
  hashAfter?: string;
  /** A firewalld/ufw fix: rollback asks the manager, and backupText is only the before-picture. */
  manager?: ManagedFix;
}

export interface BackupStore {
  save(record: ChangeRecord): Promise<void>;
  get(proposalId: string): Promise<ChangeRecord | undefined>;
}

const retentionMs = 30 * 24 * 3600 * 1000;

export function redisBackupStore(redis: Redis, prefix: string): BackupStore {
  const key = (id: string) => `${prefix}:wb:backup:${id}`;
  return {
    async save(r) { await redis.set(key(r.proposalId), JSON.stringify(r), 'PX', retentionMs); },
    async get(id) {
      const text = await redis.get(key(id));
      return text ? JSON.parse(text) as ChangeRecord : undefined;
    },
  };
}

export function memoryBackupStore(): BackupStore {
  const records = new Map<string, ChangeRecord>();
  return {
    save: async (r) => { records.set(r.proposalId, structuredClone(r)); },
    get: async (id) => { const r = records.get(id); return r ? structuredClone(r) : undefined; },
  };
}
