import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeLab } from '../helpers/lab-gate.ts';
import type { TriageReport } from '../../src/triage/report-types.ts';
import { helperPath, lockoutRules, normRules, requestFrom, startFixLab, type FixLab } from './fix-lab-helpers.ts';

describeLab('a change that goes wrong never leaves the host half-changed', () => {
  let fl: FixLab;
  let report: TriageReport;
  beforeAll(async () => {
    fl = await startFixLab();
    report = await fl.triage();
  }, 60_000);
  afterAll(async () => { await fl?.stop(); });

  it('refuses when the rules changed between diagnosis and approval, and changes nothing', async () => {
    await fl.lab.exec('server', ['iptables-legacy', '-A', 'INPUT', '-p', 'tcp', '--dport', '2323', '-j', 'ACCEPT']);
    const changed = await fl.serverRules();
    try {
      const fix = report.fixes.find((f) => f.kind === 'firewall')!;
      const result = await fl.engine().run(requestFrom(report, fix));
      expect(result.status).toBe('refused');
      expect(result.message).toMatch(/changed since diagnosis/);
      expect(result.message).toMatch(/Re-run/);
      expect(result.offerRerun).toBe(true);
      expect(normRules(await fl.serverRules())).toBe(normRules(changed));
    } finally {
      await fl.lab.exec('server', ['iptables-legacy', '-D', 'INPUT', '-p', 'tcp', '--dport', '2323', '-j', 'ACCEPT']);
    }
  }, 60_000);

  it('a fix that locks the bot out heals itself within T + 5 s, and the result says so', async () => {
    const deadmanSeconds = 5;
    const original = await fl.serverRules();
    const fix = { commands: ['iptables-legacy -I INPUT 1 -p tcp --dport 22 -j DROP'], rulesetAfter: lockoutRules(original) };
    const req = requestFrom(report, fix);
    const result = await fl.engine({ deadmanSeconds }).run(req);
    expect(result.status).toBe('failed');
    expect(result.verification?.freshSsh, JSON.stringify(result)).toBe(false);
    expect(result.restored).toBe('by-deadman');
    expect(result.message).toMatch(/healed itself/);
    // 'by-deadman' is only returned when a NEW login saw the switch fired and the old hash back
    // before T + 5 s (the engine's own deadline), so this is the "healed within T + 5 s" check.
    expect(normRules(await fl.serverRules())).toBe(normRules(original));
  }, 90_000);

  it('a worker SIGKILLed mid-apply leaves no half-applied state: the dead-man restores the backup', async () => {
    const original = await fl.serverRules();
    const fix = report.fixes.find((f) => f.kind === 'firewall')!;
    const req = requestFrom(report, fix);
    const script = join(tmpdir(), `wb-kill-${process.pid}.mts`);
    const input = join(tmpdir(), `wb-kill-${process.pid}.json`);
    writeFileSync(input, JSON.stringify({ inventory: fl.lab.inventoryFile, req, helperPath }));
    writeFileSync(script, childScript(new URL('../../src/', import.meta.url).pathname));
    const child = spawn(process.execPath, ['--import', 'tsx', script, input], { stdio: ['ignore', 'pipe', 'inherit'] });
    // Killed right after the new rules are loaded, before verification could disarm the switch.
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('step verify')) { child.kill('SIGKILL'); resolve(); } });
      child.on('exit', () => reject(new Error('the child finished before it could be killed')));
    });
    rmSync(script, { force: true });
    rmSync(input, { force: true });
    const mid = await fl.serverRules();
    expect(normRules(mid)).not.toBe(normRules(original));
    const status = await fl.lab.exec('server', [helperPath, 'status', req.proposal.id]);
    expect(status.stdout.trim()).toBe('armed');
    for (let i = 0; i < 40 && normRules(await fl.serverRules()) !== normRules(original); i++) await sleep(500);
    expect(normRules(await fl.serverRules())).toBe(normRules(original));
    expect((await fl.lab.exec('server', [helperPath, 'status', req.proposal.id])).stdout.trim()).toBe('fired');
  }, 90_000);
});

function childScript(src: string): string {
  return `
import { readFileSync } from 'node:fs';
import { loadInventory } from '${src}config/load-inventory.ts';
import { resolveHost } from '${src}config/resolve-host.ts';
import { AuditLog } from '${src}fix/audit-log.ts';
import { memoryBackupStore } from '${src}fix/backup-store.ts';
import { changeCommands } from '${src}fix/change-commands.ts';
import { ChangeEngine } from '${src}fix/change-engine.ts';
import { memoryHostLock } from '${src}fix/host-lock.ts';
import { silentLogger } from '${src}log/create-logger.ts';
import { SshPool } from '${src}remote/ssh-pool.ts';
const { inventory: file, req, helperPath } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const inventory = loadInventory(file);
const log = silentLogger();
const pool = new SshPool({ logger: log, resolveJump: (n) => resolveHost(inventory, n) });
const engine = new ChangeEngine({
  inventory, pool, log, audit: new AuditLog({}), lock: memoryHostLock(), backups: memoryBackupStore(),
  commands: changeCommands({ helperPath }), deadmanSeconds: 5, deadmanMode: 'setsid', connectTimeoutMs: 2000,
  onStep: (step) => { process.stdout.write('step ' + step + '\\n'); if (step === 'verify') setInterval(() => undefined, 1000); },
});
await engine.run(req);
process.stdout.write('finished\\n');
`;
}
