import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, openDir, startSshd, type Sshd, type SshdOptions } from './sshd-lab.ts';

export interface SshLab {
  dir: string;
  /** Private key the bot uses; its public half is authorized for every user. */
  clientKey: string;
  authorizedKeys: string;
  start(name: string, options?: Omit<SshdOptions, 'authorizedKeys'>): Promise<Sshd>;
  /** `ssh-keyscan` output for one of our sshds, i.e. real `[127.0.0.1]:port ssh-ed25519 …` lines. */
  keyscan(sshd: Sshd): string;
  /**
   * An unprivileged account with /bin/sh as login shell and no sudoers entry (removed in teardown).
   * Tests mostly log in as it: root's login shell here sources a slow ~/.bashrc on every exec.
   */
  createUser(): string;
  teardown(): Promise<void>;
}

function pidsOf(user: string): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '-u', user]).toString().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return []; // ps exits 1 when the user has no processes
  }
}

export function createSshLab(prefix: string): SshLab {
  const dir = mkdtempSync(join(tmpdir(), `wb-${prefix}-${process.pid}-`));
  openDir(dir);
  const clientKey = join(dir, 'client_ed25519');
  const authorizedKeys = join(dir, 'authorized_keys');
  // Logins get an empty HOME: root's real ~/.bashrc here runs `pyenv init`, whose rehash lock makes
  // concurrent root logins wait up to 60 s, and a test must not depend on the machine's dotfiles.
  const home = join(dir, 'home');
  mkdirSync(home, { mode: 0o755 });
  writeFileSync(authorizedKeys, `environment="HOME=${home}" ${generateKey(clientKey)}\n`, { mode: 0o644 });
  const started: Sshd[] = [];
  const users: string[] = [];
  return {
    dir, clientKey, authorizedKeys,
    async start(name, options = {}) {
      const sshd = await startSshd(dir, name, { ...options, authorizedKeys });
      started.push(sshd);
      return sshd;
    },
    keyscan(sshd) {
      return execFileSync('ssh-keyscan', ['-p', String(sshd.port), '-t', 'ed25519', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    },
    createUser() {
      const name = `wb${process.pid}u${users.length}`;
      const home = join(dir, name);
      execFileSync('useradd', ['-M', '-d', home, '-s', '/bin/sh', name]);
      users.push(name);
      // useradd leaves the account locked, and sshd without PAM refuses locked accounts.
      execFileSync('usermod', ['-p', '*', name]);
      mkdirSync(home, { mode: 0o755 });
      execFileSync('chown', [name, home]);
      return name;
    },
    async teardown() {
      await Promise.all(started.map((s) => s.stop()));
      for (const user of users) {
        // Leftover processes of the user (e.g. a test's detached sleep) would make userdel fail.
        for (const pid of pidsOf(user)) {
          try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
        }
        try { execFileSync('userdel', [user], { stdio: 'ignore' }); } catch { /* reported below */ }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
