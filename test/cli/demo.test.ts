import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeLab } from '../helpers/lab-gate.ts';
import { cliPath, runCli } from '../helpers/run-cli.ts';

describeLab('why-blocked demo', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'wb-demo-'));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('diagnoses the seed, fixes it safely, makes it permanent, and leaves no lab behind', async () => {
    const r = await runCli(['demo', '--deadman', '30'], { cwd, timeoutMs: 240_000 });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/firewall-shadowed-accept/);
    expect(r.stdout).toMatch(/-A INPUT -j REJECT --reject-with icmp-host-prohibited/);
    expect(r.stdout).toMatch(/^ {3}connected$/m);
    expect(r.stdout).toMatch(/banner: lab telnet/);
    expect(r.stdout).toMatch(/WARNING persistence-drift/);
    expect(r.stdout).toMatch(/persistence warning cleared/);
    const name = /lab (wb[a-z0-9]+):/.exec(r.stdout)?.[1];
    expect(name).toBeDefined();
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    expect(namespaces).not.toContain(`${name!}-`);
  }, 300_000);

  it('tears the lab down when interrupted with SIGINT mid-run', async () => {
    const child = spawn(process.execPath, [cliPath, 'demo'], { cwd, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sent = false;
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (!sent && out.includes('== 2.')) { sent = true; child.kill('SIGINT'); resolve(); }
      });
      void exited.then(() => reject(new Error(`demo ended before it could be interrupted:\n${out}`)));
    });
    const code = await exited;
    expect(code).not.toBe(0);
    expect(out, err).toMatch(/Tearing the lab down/);
    const name = /lab (wb[a-z0-9]+):/.exec(out)?.[1];
    expect(name).toBeDefined();
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), `${out}\n${err}`).not.toContain(`${name!}-`);
  }, 120_000);
});
