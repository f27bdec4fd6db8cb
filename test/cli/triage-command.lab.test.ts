import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLab, type Lab } from '../../src/lab/index.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import { describeLab } from '../helpers/lab-gate.ts';
import { runCli } from '../helpers/run-cli.ts';

/** The real binary against the seed lab: exit codes, the JSON interface, and a refused host key. */
describeLab('why-blocked triage on the seed lab', () => {
  let lab: Lab;
  let copy: string;
  let presented: string;
  beforeAll(async () => {
    lab = await startLab('seed-telnet', { log: silentLogger() });
    // A copy of the lab's inventory whose known_hosts pins another key for the server.
    copy = mkdtempSync(join(tmpdir(), 'wb-triage-tampered-'));
    for (const f of ['inventory.yml', 'id_ed25519']) copyFileSync(join(lab.dir, f), join(copy, f));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(copy, 'other')]);
    const otherKey = readFileSync(join(copy, 'other.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    const server = lab.hosts.server!.addresses[0]!;
    const lines = readFileSync(lab.knownHostsFile, 'utf8').split('\n')
      .map((l) => (l.split(' ')[0]!.split(',').includes(server) ? `${l.split(' ')[0]!} ${otherKey}` : l));
    writeFileSync(join(copy, 'known_hosts'), lines.join('\n'));
    const scanned = execFileSync('ssh-keygen', ['-lf', join(lab.dir, 'hosts', 'server', 'ssh_host_ed25519_key.pub')], { encoding: 'utf8' });
    presented = /SHA256:\S+/.exec(scanned)![0];
  }, 60_000);
  afterAll(async () => {
    await lab?.stop();
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('diagnoses the seed: exit 0 and the documented JSON shape', async () => {
    const r = await runCli(['triage', 'server', '23', '--from', 'client', '--inventory', lab.inventoryFile, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { cause: string; decidedBy: { chain: string; position: number }; evidence: unknown[]; warnings: unknown[]; fixes: Record<string, unknown>[]; durationMs: number };
    expect(j.cause).toBe('firewall-shadowed-accept');
    expect(j.decidedBy).toMatchObject({ chain: 'INPUT', position: 5 });
    expect(j.fixes.length).toBeGreaterThan(0);
    for (const f of j.fixes) for (const key of ['id', 'title', 'commands', 'rulesetAfter', 'effect', 'blastRadius']) expect(f).toHaveProperty(key);
    expect(r.stderr).not.toMatch(/✓|✗/);
  }, 60_000);

  it('a tampered known_hosts: exit 3, ssh-unreachable, and the message names the key it was shown', async () => {
    const r = await runCli(['triage', 'server', '23', '--from', 'client', '--inventory', join(copy, 'inventory.yml')]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/: ssh-unreachable/);
    expect(r.stdout).toMatch(/HOST KEY MISMATCH for 10\.\d+\.\d+\.\d+/);
    expect(r.stdout).toContain(presented);
    expect(r.stdout).toMatch(/No command was run/);
  }, 60_000);
});
