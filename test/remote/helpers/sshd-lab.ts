import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { InventoryHost } from '../../../src/config/inventory-types.ts';

/** Generates an ed25519 key pair; returns the public key line without comment. */
export function generateKey(path: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface Sshd {
  name: string;
  port: number;
  /** `ssh-ed25519 AAAA…` of the host key. */
  hostKey: string;
  log(): string;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Absolute path of the authorized_keys file shared by every user. */
  authorizedKeys: string;
  allowTcpForwarding?: boolean;
  logLevel?: 'INFO' | 'VERBOSE' | 'DEBUG1';
  /** sshd's MaxSessions (sessions per connection). @defaultValue 10 */
  maxSessions?: number;
}

async function startOnce(dir: string, name: string, port: number, hostKeyPath: string, options: SshdOptions): Promise<{ child: ChildProcess; output: () => string } | undefined> {
  const cfg = join(dir, `${name}_sshd_config`);
  writeFileSync(cfg, [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKeyPath}`,
    `PidFile ${join(dir, `${name}.pid`)}`,
    `AuthorizedKeysFile ${options.authorizedKeys}`,
    'UsePAM no',
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    // Only HOME, set per key in authorized_keys (see ssh-lab.ts).
    'PermitUserEnvironment HOME',
    `AllowTcpForwarding ${options.allowTcpForwarding ? 'yes' : 'no'}`,
    'X11Forwarding no',
    `LogLevel ${options.logLevel ?? 'INFO'}`,
    `MaxSessions ${options.maxSessions ?? 10}`,
    '',
  ].join('\n'));
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  const ok = await new Promise<boolean>((resolve) => {
    const onData = () => { if (output.includes(`Server listening on 127.0.0.1 port ${port}`)) done(true); };
    const onExit = () => done(false);
    const done = (v: boolean) => { child.stderr!.off('data', onData); child.off('exit', onExit); resolve(v); };
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
  if (!ok) return undefined;
  return { child, output: () => output };
}

/** Starts a real OpenSSH sshd on 127.0.0.1 with a fresh ed25519 host key. Needs root. */
export async function startSshd(dir: string, name: string, options: SshdOptions): Promise<Sshd> {
  mkdirSync('/run/sshd', { recursive: true });
  const hostKeyPath = join(dir, `${name}_host_ed25519`);
  const hostKey = generateKey(hostKeyPath);
  // Another process can grab the free port between probe and bind; try a few.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const port = await freePort();
    const started = await startOnce(dir, name, port, hostKeyPath, options);
    if (!started) continue;
    const { child, output } = started;
    return {
      name, port, hostKey, log: output,
      stop: () => new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
    };
  }
  throw new Error(`sshd ${name} did not start`);
}

/** Makes the temp dir traversable so sshd can read authorized_keys as an unprivileged user. */
export function openDir(dir: string): void {
  chmodSync(dir, 0o755);
}

export function inventoryHost(name: string, port: number, ssh: Partial<InventoryHost['ssh']> & { privateKey: string }): InventoryHost {
  return {
    name,
    addresses: ['127.0.0.1'],
    aliases: [],
    site: 'test',
    ssh: { user: 'root', port, sudo: false, readyTimeoutMs: 5000, ...ssh },
  };
}
