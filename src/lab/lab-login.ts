import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { PlannedHost } from './plan-lab.ts';
import { runCommand } from './run-command.ts';

/** Inside a login host's SSH sessions; the overlay puts them there (see mountLoginOverlay). */
export const loginLibexecDir = '/usr/local/libexec/why-blocked';
export const loginAuthorizedKeys = '/usr/local/share/why-blocked-lab/authorized_keys';
const firstLoginUid = 61000;

function usedIds(text: string, field: number): Set<number> {
  return new Set(text.split('\n').map((l) => Number(l.split(':')[field])).filter(Number.isInteger));
}

/**
 * Adds the login user to the host's own copies of passwd and group and its sudoers file to the
 * host's sudoers.d, all under /etc/netns/<ns>/ (installed by installEtcFiles). The password field
 * is `*` (no password can match, yet not "locked"), so neither sshd nor sudo's PAM account check
 * looks for a shadow entry, and no copy of the real /etc/shadow is ever needed. Home is `/`: sshd
 * only needs a directory it can chdir to, and the user must own nothing on the real machine. The
 * id is one no real account uses, so `ps` outside the lab shows no one's name.
 */
export function addLoginEtcFiles(host: PlannedHost, realPasswd: string, realGroup: string): void {
  const login = host.login;
  if (!login) return;
  const passwd = host.etcFiles.passwd ?? realPasswd;
  const taken = new Set([...usedIds(passwd, 2), ...usedIds(realPasswd, 2), ...usedIds(realGroup, 2)]);
  let id = firstLoginUid;
  while (taken.has(id)) id += 1;
  host.etcFiles.passwd = `${passwd.replace(/\n?$/, '\n')}${login.user}:*:${id}:${id}:why-blocked lab probe user:/:/bin/sh\n`;
  host.etcFiles.group = `${realGroup.replace(/\n?$/, '\n')}${login.user}:x:${id}:\n`;
  host.etcFiles['sudoers.d/why-blocked'] = login.sudoers;
}

/** A broken file in sudoers.d would break sudo inside the host; refuse it before anything starts. */
export async function checkLoginSudoers(host: PlannedHost, visudo: string, dir: string): Promise<void> {
  if (!host.login) return;
  const file = join(dir, 'sudoers.check');
  writeFileSync(file, host.login.sudoers, { mode: 0o600 });
  const r = await runCommand([visudo, '-cf', file], { timeoutMs: 10_000 });
  if (r.code !== 0) {
    throw new WhyBlockedError(ErrorCode.LabFailed, `host "${host.name}": the login sudoers does not pass visudo -cf: ${(r.stderr || r.stdout).trim()}`);
  }
}

/** The sshd_config lines that let the login user in with the lab key (read as that user). */
export function loginSshdConfig(host: PlannedHost): string {
  if (!host.login) return '';
  return [`Match User ${host.login.user}`, `  AuthorizedKeysFile ${loginAuthorizedKeys}`, ''].join('\n');
}

/**
 * Makes the helpers and the login's authorized_keys appear under /usr/local for this host's SSH
 * sessions only: an overlay of a lab directory on top of the real /usr/local, mounted inside the
 * running sshd's mount namespace (private to it since `ip netns exec` made it), so it disappears
 * with sshd and the real /usr/local never changes. Overlayfs reads the lower layer with the
 * mounter's (root's) rights, so the user needs no access to the lab directory itself.
 */
export async function mountLoginOverlay(host: PlannedHost, o: { nsenter: string; mount: string; hostDir: string; sshdPid: number; publicKey: string }): Promise<void> {
  if (!host.login) return;
  const lower = join(o.hostDir, 'usr-local');
  const libexec = join(lower, 'libexec', 'why-blocked');
  const share = join(lower, 'share', 'why-blocked-lab');
  for (const d of [lower, join(lower, 'libexec'), libexec, join(lower, 'share'), share]) {
    mkdirSync(d, { recursive: true });
    chmodSync(d, 0o755);
  }
  for (const [name, text] of Object.entries(host.login.libexec ?? {})) {
    writeFileSync(join(libexec, name), text);
    chmodSync(join(libexec, name), 0o755);
  }
  writeFileSync(join(share, 'authorized_keys'), `${o.publicKey}\n`);
  chmodSync(join(share, 'authorized_keys'), 0o644);
  const r = await runCommand([
    o.nsenter, '--target', String(o.sshdPid), '--mount', '--',
    o.mount, '-t', 'overlay', 'why-blocked-lab', '-o', `lowerdir=${lower}:/usr/local`, '/usr/local',
  ], { timeoutMs: 10_000 });
  if (r.code !== 0) {
    throw new WhyBlockedError(ErrorCode.LabFailed, `host "${host.name}": could not overlay /usr/local for the login user: ${r.stderr.trim()}`);
  }
}
