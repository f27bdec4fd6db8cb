import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { InventoryHost } from '../../src/config/inventory-types.ts';
import { ErrorCode } from '../../src/errors.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import { fingerprintSha256 } from '../../src/remote/known-hosts.ts';
import { SshPool } from '../../src/remote/ssh-pool.ts';
import { describeLab } from '../helpers/lab-gate.ts';
import { createSshLab, type SshLab } from './helpers/ssh-lab.ts';
import { generateKey, inventoryHost, type Sshd } from './helpers/sshd-lab.ts';

describeLab('host key verification and jump hosts against real sshds', () => {
  let lab: SshLab;
  let target: Sshd;
  let bastion: Sshd;
  let user: string;
  let otherKey: string;
  let markerSeq = 0;
  const pools: SshPool[] = [];
  const hosts = new Map<string, InventoryHost>();
  const resolveJump = (name: string): InventoryHost => {
    const h = hosts.get(name);
    if (!h) throw new Error(`no inventory host ${name}`);
    return h;
  };
  const newPool = () => {
    const pool = new SshPool({ logger: silentLogger(), resolveJump });
    pools.push(pool);
    return pool;
  };
  const hostFor = (sshd: Sshd, ssh: Partial<InventoryHost['ssh']>) =>
    inventoryHost(sshd.name, sshd.port, { user, privateKey: lab.clientKey, ...ssh });
  /** A command that leaves a file behind if it ever runs. */
  const touchMarker = () => {
    const path = join(lab.dir, user, `marker-${markerSeq++}`);
    return { path, cmd: { argv: ['touch', path], timeoutMs: 10_000 } };
  };
  const knownHostsFile = (name: string, text: string) => {
    const path = join(lab.dir, name);
    writeFileSync(path, text);
    return path;
  };

  beforeAll(async () => {
    lab = createSshLab('hostkeys');
    user = lab.createUser();
    target = await lab.start('target');
    bastion = await lab.start('bastion', { allowTcpForwarding: true, logLevel: 'DEBUG1' });
    otherKey = generateKey(join(lab.dir, 'unrelated_host_key'));
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await lab?.teardown();
  });

  it('control: a trusted key lets the marker command run', async () => {
    const { path, cmd } = touchMarker();
    const r = await newPool().exec(hostFor(target, { hostKeys: [target.hostKey] }), cmd);
    expect(r.code).toBe(0);
    expect(existsSync(path)).toBe(true);
  });

  it('accepts a plain known_hosts file written by ssh-keyscan ([host]:port form)', async () => {
    const scanned = lab.keyscan(target);
    expect(scanned).toContain(`[127.0.0.1]:${target.port} ssh-ed25519 `);
    const file = knownHostsFile('kh-plain', `# comment\n\n${scanned}`);
    const { path, cmd } = touchMarker();
    const r = await newPool().exec(hostFor(target, { knownHosts: file }), cmd);
    expect(r.code).toBe(0);
    expect(existsSync(path)).toBe(true);
  });

  it('accepts a known_hosts file hashed by ssh-keygen -H', async () => {
    const file = knownHostsFile('kh-hashed', lab.keyscan(target));
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('|1|')).toBe(true);
    expect(text).not.toContain('127.0.0.1');
    const { path, cmd } = touchMarker();
    const r = await newPool().exec(hostFor(target, { knownHosts: file }), cmd);
    expect(r.code).toBe(0);
    expect(existsSync(path)).toBe(true);
  });

  it('refuses an unknown key (recorded only for port 22) and runs nothing', async () => {
    const file = knownHostsFile('kh-port22', `127.0.0.1 ${target.hostKey}\n`);
    const { path, cmd } = touchMarker();
    const err = await newPool().exec(hostFor(target, { knownHosts: file }), cmd).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.SshHostKeyUnknown });
    const seen = fingerprintSha256(Buffer.from(target.hostKey.split(' ')[1]!, 'base64'));
    expect((err as Error).message).toContain(seen);
    expect((err as Error).message).toContain(`[127.0.0.1]:${target.port}`);
    expect((err as Error).message).toContain('ssh-keyscan');
    expect(existsSync(path)).toBe(false);
  });

  it('refuses when nothing is trusted at all: never auto-accepts', async () => {
    const { path, cmd } = touchMarker();
    await expect(newPool().exec(hostFor(target, {}), cmd)).rejects.toMatchObject({ code: ErrorCode.SshHostKeyUnknown });
    expect(existsSync(path)).toBe(false);
  });

  it('refuses a mismatched key and runs nothing', async () => {
    const file = knownHostsFile('kh-wrong', `[127.0.0.1]:${target.port} ${otherKey}\n`);
    for (const ssh of [{ hostKeys: [otherKey] }, { knownHosts: file }]) {
      const { path, cmd } = touchMarker();
      const err = await newPool().exec(hostFor(target, ssh), cmd).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCode.SshHostKeyMismatch });
      expect((err as Error).message).toContain(fingerprintSha256(Buffer.from(target.hostKey.split(' ')[1]!, 'base64')));
      expect(existsSync(path)).toBe(false);
    }
  });

  it('refuses a key marked @revoked even when it is also pinned', async () => {
    const file = knownHostsFile('kh-revoked', `@revoked [127.0.0.1]:${target.port} ${target.hostKey}\n`);
    const { path, cmd } = touchMarker();
    await expect(newPool().exec(hostFor(target, { knownHosts: file, hostKeys: [target.hostKey] }), cmd))
      .rejects.toMatchObject({ code: ErrorCode.SshHostKeyMismatch, details: { reason: 'revoked' } });
    expect(existsSync(path)).toBe(false);
  });

  it('a bad known_hosts path is a configuration error, not an open door', async () => {
    const { path, cmd } = touchMarker();
    await expect(newPool().exec(hostFor(target, { knownHosts: join(lab.dir, 'missing') }), cmd))
      .rejects.toMatchObject({ code: ErrorCode.ConfigInvalid });
    expect(existsSync(path)).toBe(false);
  });

  it('runs through a jump host with both hops verified', async () => {
    hosts.set('bastion', hostFor(bastion, { hostKeys: [bastion.hostKey] }));
    const inner = hostFor(target, { hostKeys: [target.hostKey], jump: 'bastion' });
    const pool = newPool();
    const r = await pool.exec(inner, { argv: ['sh', '-c', 'echo "$SSH_CONNECTION"'], timeoutMs: 10_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split(' ')[3]).toBe(String(target.port));
    // The bastion's sshd opened the TCP connection to the target for us.
    expect(bastion.log()).toMatch(new RegExp(`direct.tcpip.*target 127\\.0\\.0\\.1 port ${target.port}`));
    expect(pool.stats().connections[0]!.key).toBe(`${user}@127.0.0.1:${target.port} via ${user}@127.0.0.1:${bastion.port}`);
  });

  it('refuses a bad key on the inner hop and runs nothing', async () => {
    hosts.set('bastion', hostFor(bastion, { hostKeys: [bastion.hostKey] }));
    const { path, cmd } = touchMarker();
    const err = await newPool().exec(hostFor(target, { hostKeys: [bastion.hostKey], jump: 'bastion' }), cmd).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.SshHostKeyMismatch, details: { port: target.port } });
    expect(existsSync(path)).toBe(false);
  });

  it('refuses a bad key on the jump host itself', async () => {
    hosts.set('bastion', hostFor(bastion, { hostKeys: [target.hostKey] }));
    const { path, cmd } = touchMarker();
    const err = await newPool().exec(hostFor(target, { hostKeys: [target.hostKey], jump: 'bastion' }), cmd).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.SshHostKeyMismatch, details: { port: bastion.port } });
    expect(existsSync(path)).toBe(false);
  });

  it('reports a jump host that cannot forward as a connect failure', async () => {
    // The target's sshd has AllowTcpForwarding no, so using it as a jump host is refused.
    hosts.set('nofwd', hostFor(target, { hostKeys: [target.hostKey] }));
    const err = await newPool().exec(hostFor(bastion, { hostKeys: [bastion.hostKey], jump: 'nofwd' }), { argv: ['true'], timeoutMs: 5000 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.SshConnectFailed });
    expect((err as Error).message).toMatch(/Jump host target could not open a TCP connection/);
  });

  it('detects a jump loop', async () => {
    hosts.set('loop-a', { ...hostFor(target, { hostKeys: [target.hostKey], jump: 'loop-b' }), name: 'loop-a' });
    hosts.set('loop-b', { ...hostFor(bastion, { hostKeys: [bastion.hostKey], jump: 'loop-a' }), name: 'loop-b' });
    await expect(newPool().exec(hosts.get('loop-a')!, { argv: ['true'], timeoutMs: 5000 }))
      .rejects.toMatchObject({ code: ErrorCode.ConfigInvalid });
  });
});
