import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeLab } from '../helpers/lab-gate.ts';
import { loadInventory } from '../../src/config/load-inventory.ts';
import { resolveHost } from '../../src/config/resolve-host.ts';
import type { Inventory, InventoryHost } from '../../src/config/inventory-types.ts';
import { AuditLog } from '../../src/fix/audit-log.ts';
import { memoryBackupStore } from '../../src/fix/backup-store.ts';
import { changeCommands, defaultHelperPath } from '../../src/fix/change-commands.ts';
import { ChangeEngine, type ChangeRequest } from '../../src/fix/change-engine.ts';
import { memoryHostLock } from '../../src/fix/host-lock.ts';
import { getLabScenario, startLab, type Lab, type LabScenario } from '../../src/lab/index.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import { buildPersistenceCommands, defaultProbeHelperPath } from '../../src/probes/persistence-probe.ts';
import { triageHost } from '../../src/probes/triage-host.ts';
import type { RemoteCommand } from '../../src/remote/remote-command.ts';
import { SshPool } from '../../src/remote/ssh-pool.ts';
import type { Cause, EvidenceItem, TriageReport } from '../../src/triage/report-types.ts';
import { forbiddenArgvs, privilegedCommands } from './privileged-commands.ts';

/**
 * The production setup, for real: the bot logs in as the unprivileged `whyblocked` with
 * `ssh.sudo: true`, and sudo grants exactly the shipped deploy/host/why-blocked.sudoers, with the
 * shipped helpers at their installed path. The account, the sudoers file and the helpers exist
 * only inside the lab host (its /etc/netns files and an overlay in its sshd's mount namespace), so
 * the machine's own sudo policy never changes. The same lab is triaged as root as well: least
 * privilege must not change a single conclusion.
 */
const deployDir = fileURLToPath(new URL('../../deploy/host/', import.meta.url));
const shipped = (f: string): string => readFileSync(join(deployDir, f), 'utf8');
const user = 'whyblocked';

function leastPrivilege(name: string): LabScenario {
  const s = getLabScenario(name);
  const login = {
    user,
    sudoers: shipped('why-blocked.sudoers'),
    libexec: { 'why-blocked-change': shipped('why-blocked-change'), 'why-blocked-probe': shipped('why-blocked-probe') },
  };
  return { ...s, hosts: { ...s.hosts, server: { ...s.hosts.server!, login } } };
}

/** The same inventory with the server reached as root without sudo, as every other lab test does. */
function asRoot(inv: Inventory): Inventory {
  const hosts = new Map(inv.hosts);
  const server = hosts.get('server')!;
  hosts.set('server', { ...server, ssh: { ...server.ssh, user: 'root', sudo: false } });
  return { ...inv, hosts };
}

/** Anything a refused or failed sudo leaves in evidence. */
const sudoTrouble = /sudo|password is required|not allowed to execute|permission denied|operation not permitted|needs sudo|command not found/i;

function evidenceText(e: EvidenceItem): string {
  return [e.summary, ...e.raw, e.error ? `${e.error.code}: ${e.error.message}` : ''].join('\n');
}

const cases: { scenario: string; cause: Cause; check: (lp: TriageReport) => void; everyCommand?: boolean; apply?: boolean }[] = [
  {
    scenario: 'seed-telnet', cause: 'firewall-shadowed-accept', everyCommand: true, apply: true,
    check: (r) => {
      expect(r.decidedBy).toMatchObject({ table: 'filter', chain: 'INPUT', position: 5 });
      expect(r.evidence.find((e) => e.probe === 'capture')?.raw.join('\n')).toMatch(/unreachable - admin prohibited/);
      // The saved file was read through sudo and simulated.
      expect(r.evidence.find((e) => e.probe === 'persistence')?.data).toMatchObject({ compared: '/etc/sysconfig/iptables' });
    },
  },
  {
    scenario: 'tcp-wrappers', cause: 'tcp-wrappers',
    check: (r) => {
      const w = r.evidence.find((e) => e.probe === 'tcp-wrappers');
      expect(w?.data).toMatchObject({ daemon: 'cat', decision: 'deny', honoured: 'yes', decidedBy: { file: '/etc/hosts.deny', line: 1 } });
      // readlink of the listener's /proc/PID/exe went through sudo and named the real binary.
      expect(w?.raw.join('\n')).toMatch(/^exe \/\S+$/m);
      expect(w?.raw.join('\n')).toMatch(/: no libwrap$/m);
    },
  },
];

describeLab('least privilege: the shipped sudoers is enough for every probe and the apply helper', () => {
  const log = silentLogger();
  for (const c of cases) {
    describeLab(c.scenario, () => {
      let lab: Lab;
      let inventory: Inventory;
      let pool: SshPool;
      let rootPool: SshPool;
      let server: InventoryHost;
      let lp: TriageReport;
      let root: TriageReport;
      const run = (cmd: RemoteCommand) => pool.exec(server, cmd);

      beforeAll(async () => {
        lab = await startLab(leastPrivilege(c.scenario), { log });
        inventory = loadInventory(lab.inventoryFile);
        server = resolveHost(inventory, 'server');
        pool = new SshPool({ logger: log, resolveJump: (n) => resolveHost(inventory, n) });
        const rootInventory = asRoot(inventory);
        rootPool = new SshPool({ logger: log, resolveJump: (n) => resolveHost(rootInventory, n) });
        const request = { target: 'server', port: 23, from: 'client' };
        lp = await triageHost(request, { inventory, pool, log, budgetMs: 15_000, connectTimeoutMs: 2000 });
        root = await triageHost(request, { inventory: rootInventory, pool: rootPool, log, budgetMs: 15_000, connectTimeoutMs: 2000 });
        if (process.env.WHY_BLOCKED_TEST_REPORTS) {
          writeFileSync(`${process.env.WHY_BLOCKED_TEST_REPORTS}/least-privilege-${c.scenario}.json`, JSON.stringify({ lp, root }, null, 2));
        }
      }, 90_000);
      afterAll(async () => {
        await pool?.close();
        await rootPool?.close();
        await lab?.stop();
      });

      it('logs in as the unprivileged user, whose sudo is the shipped file only', async () => {
        expect(server.ssh).toMatchObject({ user, sudo: true });
        const id = await run({ argv: ['id', '-un'], timeoutMs: 3000 });
        expect(id.stdout.trim()).toBe(user);
        // Not in the sudoers file: refused without a prompt, and no root shell either.
        for (const argv of [['id'], ['bash', '-c', 'id'], ['sh', '-c', 'id'], ['readlink', '-f', '/proc/1/exe', '/etc/shadow'], ['cat', '/etc/shadow']]) {
          const r = await run({ argv: ['sudo', '-n', '--', ...argv], timeoutMs: 5000 });
          expect(r.code, argv.join(' ')).not.toBe(0);
          expect(r.stdout).toBe('');
          expect(r.stderr).toMatch(/a password is required|not allowed/);
        }
        // The machine itself is untouched: outside the lab no such user exists, and the helpers'
        // overlay lives only in the lab sshd's mount namespace.
        expect(readFileSync('/etc/passwd', 'utf8')).not.toMatch(new RegExp(`^${user}:`, 'm'));
        expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toMatch(/why-blocked-lab/);
        expect((await run({ argv: ['grep', '-c', 'why-blocked-lab', '/proc/self/mountinfo'], timeoutMs: 3000 })).stdout.trim()).toBe('1');
      });

      it(`is diagnosed as ${c.cause}, exactly as with a root login`, () => {
        expect(root.cause, root.summary).toBe(c.cause);
        expect(lp.cause, lp.summary).toBe(root.cause);
        expect(lp.decidedBy).toEqual(root.decidedBy);
        expect(lp.fixes.map((f) => f.id)).toEqual(root.fixes.map((f) => f.id));
        c.check(lp);
      });

      it('every probe produced real evidence: no sudo refusal, nothing unknown for lack of root', () => {
        const probes = (r: TriageReport) => r.evidence.map((e) => e.probe).sort();
        expect(probes(lp)).toEqual(probes(root));
        expect(probes(lp)).toEqual(expect.arrayContaining(['listener', 'tcp-wrappers', 'firewall', 'persistence', 'capture']));
        for (const e of lp.evidence) {
          expect(e.error, `${e.probe}: ${evidenceText(e)}`).toBeUndefined();
          expect(evidenceText(e), e.probe).not.toMatch(sudoTrouble);
          const same = root.evidence.find((x) => x.probe === e.probe)!;
          expect(e.ok, `${e.probe}: ${e.summary} vs root: ${same.summary}`).toBe(same.ok);
        }
        const listener = lp.evidence.find((e) => e.probe === 'listener')!.data as { processes: { pid: number; name: string }[] };
        expect(listener.processes.length).toBeGreaterThan(0);
        const fw = lp.evidence.find((e) => e.probe === 'firewall')!.data as { dumps: unknown[]; rulesetHash?: string };
        expect(fw.dumps.length).toBeGreaterThan(0);
        expect(fw.rulesetHash).toBe((root.evidence.find((e) => e.probe === 'firewall')!.data as { rulesetHash?: string }).rulesetHash);
        const wrappers = lp.evidence.find((e) => e.probe === 'tcp-wrappers')!.data as { honoured: string };
        expect(wrappers.honoured).not.toBe('unknown');
        expect(wrappers).toEqual(root.evidence.find((e) => e.probe === 'tcp-wrappers')!.data);
        expect(lp.evidence.find((e) => e.probe === 'persistence')!.data).toEqual(root.evidence.find((e) => e.probe === 'persistence')!.data);
      });

      it('the nftables.conf check runs only through the root-owned helper, for the allowlisted paths only', async () => {
        const nftConf = await run(buildPersistenceCommands()['nftables-conf']);
        // The lab host sees the machine's own /etc/nftables.conf (Debian ships one).
        if (existsSync('/etc/nftables.conf')) {
          expect(nftConf.code, nftConf.stderr).toBe(0);
          expect(JSON.parse(nftConf.stdout)).toHaveProperty('nftables');
        } else {
          expect(nftConf.code, nftConf.stderr).toBe(3);
        }
        expect((await run(buildPersistenceCommands()['sysconfig-nftables-conf'])).code).toBe(3);
        for (const path of ['/etc/shadow', '/tmp/x.conf', '/etc/nftables.conf /etc/shadow']) {
          const viaSudo = await run({ argv: ['sudo', '-n', '--', defaultProbeHelperPath, 'nft-conf', path], timeoutMs: 5000 });
          expect(viaSudo.stderr, path).toMatch(/a password is required/);
        }
        // The helper's own check, in case the sudoers file is ever loosened.
        const direct = await run({ argv: [defaultProbeHelperPath, 'nft-conf', '/etc/shadow'], timeoutMs: 5000 });
        expect(direct.code).toBe(2);
        expect(direct.stderr).toMatch(/refusing \/etc\/shadow/);
      });

      // Scenario-specific checks are only defined where they apply, so nothing shows up as skipped.
      if (c.everyCommand === true) it('the real sudo on the host permits every privileged command the bot can render', async () => {
        const checked = await Promise.all(privilegedCommands().map(async ({ name, cmd }) => {
          const r = await run({ argv: ['sudo', '-n', '-l', '--', ...cmd.argv], timeoutMs: 10_000 });
          // Tools this machine lacks (firewall-cmd, ufw) cannot be listed; sudoers.test.ts matches them by parsing.
          if (/command not found/.test(r.stderr)) return { name, skipped: true };
          return { name, skipped: false, refused: r.code !== 0 ? `${name}: ${cmd.argv.join(' ').slice(0, 200)} → ${r.stderr.trim() || `exit ${String(r.code)}`}` : undefined };
        }));
        expect(checked.flatMap((x) => (x.refused ? [x.refused] : []))).toEqual([]);
        // Only the manager tools may be missing here; everything else was really checked.
        expect(checked.filter((x) => x.skipped).every((x) => /^(persistence firewalld|firewalld|ufw)/.test(x.name))).toBe(true);
        expect(checked.filter((x) => !x.skipped).length).toBeGreaterThan(60);
        // The near misses stay refused by the real sudo too (the parsing test claims the same).
        const allowed = await Promise.all(forbiddenArgvs.map(async (argv) => {
          const r = await run({ argv: ['sudo', '-n', '-l', '--', ...argv], timeoutMs: 10_000 });
          return r.code === 0 ? argv.join(' ') : undefined;
        }));
        expect(allowed.filter((a) => a !== undefined)).toEqual([]);
      }, 60_000);

      if (c.apply === true) it('applies and rolls back the seed fix through sudo and the installed change helper', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'wb-lp-fix-'));
        const id = `prop-${process.pid.toString(16)}${Date.now().toString(16)}`;
        try {
          const engine = new ChangeEngine({
            inventory, pool, log, audit: new AuditLog({ file: join(dir, 'audit.jsonl') }), lock: memoryHostLock(), backups: memoryBackupStore(),
            commands: changeCommands(), deadmanSeconds: 30, deadmanMode: 'auto', connectTimeoutMs: 2000,
          });
          expect(changeCommands().status('prop-0').argv[0]).toBe(defaultHelperPath);
          const fix = lp.fixes.find((f) => f.kind === 'firewall')!;
          const request = (kind: ChangeRequest['kind']): ChangeRequest => ({
            kind,
            proposal: { id, host: 'server', commands: fix.commands, rulesetAfter: fix.rulesetAfter, ...(lp.rulesetHash ? { rulesetHash: lp.rulesetHash } : {}) },
            flow: { targetAddress: lp.target.address, port: 23, fromHost: 'client', ...(lp.from.address ? { clientAddress: lp.from.address } : {}) },
            by: 'U-test', approvedBy: ['U-approver'],
          });
          const applied = await engine.run(request('apply'));
          expect(applied.status, applied.message).toBe('succeeded');
          expect(applied.verification).toMatchObject({ rulesMatch: true, freshSsh: true, connect: { ok: true } });
          const connect = await lab.exec('client', ['bash', '-c', `exec 3<>/dev/tcp/${lp.target.address}/23 && echo connected`]);
          expect(connect.stdout).toMatch(/connected/);
          const rolled = await engine.run(request('rollback'));
          expect(rolled.status, rolled.message).toBe('succeeded');
          const again = await lab.exec('client', ['bash', '-c', `exec 3<>/dev/tcp/${lp.target.address}/23 && echo connected`]);
          expect(again.stdout).not.toMatch(/connected/);
        } finally {
          rmSync(dir, { recursive: true, force: true });
          // The helper keeps its state on the machine's own /var/lib (lab hosts share it).
          for (const f of ['backups/ID.rules', 'staging/ID.b64', 'staging/ID.rules', 'deadman/ID.token', 'deadman/ID.fired']) {
            rmSync(join('/var/lib/why-blocked', f.replace('ID', id)), { force: true });
          }
        }
      }, 90_000);
    });
  }
});
