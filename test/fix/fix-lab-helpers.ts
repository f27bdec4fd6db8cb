import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadInventory } from '../../src/config/load-inventory.ts';
import { resolveHost } from '../../src/config/resolve-host.ts';
import type { Inventory } from '../../src/config/inventory-types.ts';
import { AuditLog } from '../../src/fix/audit-log.ts';
import { memoryBackupStore, type BackupStore } from '../../src/fix/backup-store.ts';
import { changeCommands } from '../../src/fix/change-commands.ts';
import { ChangeEngine, type ChangeRequest } from '../../src/fix/change-engine.ts';
import { memoryHostLock } from '../../src/fix/host-lock.ts';
import { startLab, type Lab } from '../../src/lab/index.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import { triageHost } from '../../src/probes/triage-host.ts';
import { SshPool } from '../../src/remote/ssh-pool.ts';
import type { TriageReport } from '../../src/triage/report-types.ts';

/** The helper straight from the repo: lab hosts log in as root and share this filesystem. */
export const helperPath = fileURLToPath(new URL('../../deploy/host/why-blocked-change', import.meta.url));

export interface FixLab {
  lab: Lab;
  inventory: Inventory;
  pool: SshPool;
  auditFile: string;
  backups: BackupStore;
  engine(options?: { deadmanSeconds?: number }): ChangeEngine;
  triage(): Promise<TriageReport>;
  serverRules(): Promise<string>;
  stop(): Promise<void>;
}

export async function startFixLab(scenario = 'seed-telnet'): Promise<FixLab> {
  const log = silentLogger();
  const lab = await startLab(scenario, { log });
  const inventory = loadInventory(lab.inventoryFile);
  const pool = new SshPool({ logger: log, resolveJump: (n) => resolveHost(inventory, n) });
  const dir = mkdtempSync(join(tmpdir(), 'wb-fix-'));
  const auditFile = join(dir, 'audit.jsonl');
  const backups = memoryBackupStore();
  const audit = new AuditLog({ file: auditFile });
  return {
    lab, inventory, pool, auditFile, backups,
    engine: (o = {}) => new ChangeEngine({
      inventory, pool, log, audit, lock: memoryHostLock(), backups, commands: changeCommands({ helperPath }),
      deadmanSeconds: o.deadmanSeconds ?? 30, deadmanMode: 'setsid', connectTimeoutMs: 2000,
    }),
    triage: () => triageHost({ target: 'server', port: 23, from: 'client' }, { inventory, pool, log, budgetMs: 10_000, connectTimeoutMs: 2000 }),
    serverRules: async () => (await lab.exec('server', ['iptables-legacy-save'])).stdout,
    stop: async () => {
      await pool.close();
      await lab.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let counter = 0;
/** A fresh proposal id per request, as the store would mint. */
export function newProposalId(): string {
  counter += 1;
  return `prop-${process.pid.toString(16)}${Date.now().toString(16)}${counter.toString(16)}`;
}

export function requestFrom(report: TriageReport, fix: { commands: string[]; rulesetAfter: string }, kind: ChangeRequest['kind'] = 'apply', id = newProposalId()): ChangeRequest {
  return {
    kind,
    proposal: { id, host: report.target.host, commands: fix.commands, rulesetAfter: fix.rulesetAfter, ...(report.rulesetHash ? { rulesetHash: report.rulesetHash } : {}) },
    flow: { targetAddress: report.target.address, port: report.port, fromHost: 'client', ...(report.from.address ? { clientAddress: report.from.address } : {}) },
    by: 'U-test',
    approvedBy: ['U-approver'],
  };
}

/** iptables-save text without comments and counters, for comparing rules by content. */
export const normRules = (t: string): string => t.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/g, '')).join('\n');

/** The running rules with SSH dropped outright, established sessions included: the bot is cut off. */
export function lockoutRules(current: string): string {
  const filter = current.slice(current.indexOf('*filter'));
  const body = filter.slice(0, filter.indexOf('COMMIT')).split('\n').filter((l) => l.trim() !== '');
  const chains = body.filter((l) => l.startsWith('*') || l.startsWith(':'));
  const rules = body.filter((l) => l.startsWith('-A'));
  return [...chains, '-A INPUT -p tcp -m tcp --dport 22 -j DROP', ...rules, 'COMMIT', ''].join('\n').replace(/\[\d+:\d+\]/g, '[0:0]');
}
