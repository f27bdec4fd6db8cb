import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { InventoryHost } from '../../src/config/inventory-types.ts';
import { ErrorCode, isPermanent } from '../../src/errors.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import { SshPool } from '../../src/remote/ssh-pool.ts';
import { describeLab } from '../helpers/lab-gate.ts';
import { createSshLab, type SshLab } from './helpers/ssh-lab.ts';
import { freePort, generateKey, inventoryHost, type Sshd } from './helpers/sshd-lab.ts';

const noJump = (name: string): InventoryHost => { throw new Error(`unexpected jump ${name}`); };

describeLab('SSH failure modes against real endpoints', () => {
  let lab: SshLab;
  let sshd: Sshd;
  let user: string;
  let silent: Server;
  const accepted: Socket[] = [];
  const pools: SshPool[] = [];
  const newPool = () => {
    const pool = new SshPool({ logger: silentLogger(), resolveJump: noJump });
    pools.push(pool);
    return pool;
  };

  beforeAll(async () => {
    lab = createSshLab('errors');
    user = lab.createUser();
    sshd = await lab.start('target', { logLevel: 'VERBOSE' });
    // Accepts TCP and never says a word: the SSH banner never comes.
    silent = createServer((sock) => { accepted.push(sock); sock.on('error', () => undefined); });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    accepted.forEach((s) => s.destroy());
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    await lab?.teardown();
  });

  it('handshake timeout ⇒ SshTimeout, noting that TCP did connect', async () => {
    const { port } = silent.address() as { port: number };
    const host = inventoryHost('mute', port, { user, privateKey: lab.clientKey, hostKeys: [sshd.hostKey], readyTimeoutMs: 300 });
    const err = await newPool().exec(host, { argv: ['true'], timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.SshTimeout, details: { tcpConnected: true } });
    expect((err as Error).message).toMatch(/timed out after 300 ms/);
    expect(accepted.length).toBeGreaterThan(0);
  });

  it('connection refused ⇒ SshConnectFailed', async () => {
    const port = await freePort();
    const host = inventoryHost('closed', port, { user, privateKey: lab.clientKey, hostKeys: [sshd.hostKey] });
    const err = await newPool().exec(host, { argv: ['true'], timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.SshConnectFailed, details: { errno: 'ECONNREFUSED' } });
    expect(isPermanent(err)).toBe(false);
  });

  it('an unauthorized client key ⇒ SshAuthFailed (permanent)', async () => {
    const strangerKey = join(lab.dir, 'stranger_ed25519');
    generateKey(strangerKey);
    const host = inventoryHost('target', sshd.port, { user, privateKey: strangerKey, hostKeys: [sshd.hostKey] });
    const err = await newPool().exec(host, { argv: ['true'], timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.SshAuthFailed });
    expect((err as Error).message).toContain(user);
    expect(isPermanent(err)).toBe(true);
  });

  it('an unreadable private key path is a configuration error', async () => {
    const host = inventoryHost('target', sshd.port, { user, privateKey: join(lab.dir, 'nope'), hostKeys: [sshd.hostKey] });
    await expect(newPool().exec(host, { argv: ['true'], timeoutMs: 1000 })).rejects.toMatchObject({ code: ErrorCode.ConfigInvalid });
  });

  it('sudo -n needing a password ⇒ SudoPasswordRequired pointing at the sudoers snippet, not retried', async () => {
    const host = inventoryHost('target', sshd.port, { user, privateKey: lab.clientKey, hostKeys: [sshd.hostKey], sudo: true });
    const pool = newPool();
    // Control: unprivileged commands work for this user.
    const plain = await pool.exec(host, { argv: ['id', '-un'], timeoutMs: 10_000 });
    expect(plain.stdout).toBe(`${user}\n`);
    const sessionsBefore = sshd.log().split('Starting session: command').length;
    const err = await pool.exec(host, { argv: ['id', '-u'], sudo: true, timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.SudoPasswordRequired, details: { host: 'target', user } });
    expect((err as Error).message).toContain('deploy/host/why-blocked.sudoers');
    expect((err as Error).message).toContain('a password is required');
    expect(isPermanent(err)).toBe(true);
    // Exactly one session ran for it: the pool did not retry.
    expect(sshd.log().split('Starting session: command').length - sessionsBefore).toBe(1);
  });

  it('a host whose login is root runs sudo-marked commands without sudo', async () => {
    const host = inventoryHost('target', sshd.port, { privateKey: lab.clientKey, hostKeys: [sshd.hostKey], sudo: false });
    const r = await newPool().exec(host, { argv: ['id', '-u'], sudo: true, timeoutMs: 30_000 });
    expect(r.stdout).toBe('0\n');
  });
});
