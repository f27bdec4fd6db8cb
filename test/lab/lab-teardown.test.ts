import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.ts';
import { findLabState, listLabs, seedTelnetScenario, startLab, stopLab, type Lab, type LabScenario } from './lab-test-exports.ts';
import { describeLab } from '../helpers/lab-gate.ts';
import { etcLeftovers, etcSnapshot, labLeftovers } from './lab-leftovers.ts';

const cli = join(import.meta.dirname, '../../src/cli/why-blocked.js');

const connectScript = (host: string, port: number): string =>
  `const s=require('net').connect(${port},'${host}');s.setTimeout(5000,()=>{console.log('TIMEOUT');process.exit(0)});`
  + `s.on('connect',()=>{console.log('CONNECTED');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)})`;

function runCli(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describeLab('lab teardown', () => {
  let root: string;
  let etcBefore: Set<string>;
  const started: Lab[] = [];

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'wb-lab-down-'));
    etcBefore = etcSnapshot();
  });

  afterAll(async () => {
    for (const lab of started) await lab.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  describe('after a clean run', () => {
    it('removes namespaces, veths, processes, /etc/netns entries, placeholders and the lab dir', async () => {
      const lab = await startLab('seed-telnet', { labsRoot: root });
      const state = JSON.parse(readFileSync(lab.stateFile, 'utf8')) as { pids: number[]; namespaces: string[] };
      expect(state.namespaces).toHaveLength(3);
      expect(state.pids.length).toBeGreaterThanOrEqual(3);
      // The lab really exists before we check that it is gone.
      expect(labLeftovers(lab.name, lab.dir).length).toBeGreaterThan(5);
      await lab.stop();
      expect(labLeftovers(lab.name, lab.dir)).toEqual([]);
      for (const pid of state.pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
      expect(etcLeftovers(etcBefore)).toEqual([]);
    });

    it('works from another process: `lab down NAME` through the CLI', async () => {
      const lab = await startLab('seed-telnet', { labsRoot: root });
      started.push(lab);
      expect((await listLabs()).find((l) => l.name === lab.name)).toMatchObject({ status: 'up', missingNamespaces: [] });
      const down = await runCli(['lab', 'down', lab.name], root);
      expect(down.stderr).toBe('');
      expect(down.code).toBe(0);
      expect(labLeftovers(lab.name, lab.dir)).toEqual([]);
      expect(etcLeftovers(etcBefore)).toEqual([]);
    });
  });

  describe('after a failure during up', () => {
    it('tears down when a step fails after the daemons started', async () => {
      let seen: { name: string; dir: string } | undefined;
      const err = await startLab('seed-telnet', {
        labsRoot: root,
        onStep: (step, lab) => {
          seen = lab;
          if (step === 'services') throw new Error('injected failure after services');
        },
      }).then(async (lab) => { await lab.stop(); return undefined; }, (e: unknown) => e as Error);
      expect(err).toBeInstanceOf(Error);
      expect(err!.message).toContain('injected failure after services');
      expect(seen).toBeDefined();
      expect(labLeftovers(seen!.name, seen!.dir)).toEqual([]);
      expect(etcLeftovers(etcBefore)).toEqual([]);
    });

    it('tears down when a real daemon cannot start (port already taken), with the reason', async () => {
      const broken: LabScenario = {
        ...seedTelnetScenario,
        name: 'broken-listeners',
        hosts: {
          ...seedTelnetScenario.hosts,
          server: {
            ...seedTelnetScenario.hosts.server!,
            listeners: [{ kind: 'tcp', address: '0.0.0.0', port: 2323 }, { kind: 'tcp', address: '0.0.0.0', port: 2323 }],
          },
        },
      };
      let seen: { name: string; dir: string } | undefined;
      const err = await startLab(broken, { labsRoot: root, onStep: (_s, lab) => { seen = lab; } })
        .then(async (lab) => { await lab.stop(); return undefined; }, (e: unknown) => e as Error & { code: string });
      expect(err).toMatchObject({ code: ErrorCode.LabFailed });
      expect(err!.message).toContain('EADDRINUSE');
      expect(labLeftovers(seen!.name, seen!.dir)).toEqual([]);
      expect(etcLeftovers(etcBefore)).toEqual([]);
    });

    it('tears down when `lab up` receives SIGTERM half-way', async () => {
      const dir = join(root, 'interrupted');
      const child = spawn(process.execPath, [cli, 'lab', 'up', 'seed-telnet', '--dir', dir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const stateFile = join(dir, 'state.json');
      // Poll until the lab has started creating things, then interrupt.
      let name: string | undefined;
      for (let i = 0; i < 1000 && name === undefined; i += 1) {
        if (existsSync(stateFile)) {
          try { name = (JSON.parse(readFileSync(stateFile, 'utf8')) as { name: string }).name; } catch { /* being written */ }
        }
        if (name === undefined) await new Promise((r) => setTimeout(r, 5));
      }
      expect(name).toBeDefined();
      child.kill('SIGTERM');
      const code = await closed;
      expect(code).not.toBe(0);
      expect(stderr).toContain('interrupted');
      expect(labLeftovers(name!, dir)).toEqual([]);
      expect(etcLeftovers(etcBefore)).toEqual([]);
    });
  });

  it('runs two labs side by side, and removing one leaves the other working', async () => {
    const [a, b] = await Promise.all([startLab('seed-telnet', { labsRoot: root }), startLab('seed-telnet', { labsRoot: root })]);
    started.push(a!, b!);
    expect(a!.name).not.toBe(b!.name);
    expect(a!.subnet).not.toBe(b!.subnet);
    for (const lab of [a!, b!]) {
      const r = await lab.exec('client', [process.execPath, '-e', connectScript(lab.hosts.server!.addresses[0]!, 23)]);
      expect(r.stdout.trim()).toBe('EHOSTUNREACH');
    }
    await a!.stop();
    expect(labLeftovers(a!.name, a!.dir)).toEqual([]);
    // b still has its /etc view (the placeholders it shares were kept) and its daemons.
    const saved = await b!.exec('server', ['cat', '/etc/sysconfig/iptables']);
    expect(saved.stdout).toContain('-A INPUT -p tcp --dport 23 -j ACCEPT');
    const ssh = await b!.exec('client', [process.execPath, '-e', connectScript(b!.hosts.server!.addresses[0]!, 22)]);
    expect(ssh.stdout.trim()).toBe('CONNECTED');
    expect(findLabState(b!.name).status).toBe('up');
    await stopLab(b!.name);
    expect(labLeftovers(b!.name, b!.dir)).toEqual([]);
    expect(etcLeftovers(etcBefore)).toEqual([]);
  });
});
