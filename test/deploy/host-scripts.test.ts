import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSshLab, type SshLab } from '../remote/helpers/ssh-lab.ts';
import { openDir, startSshd, type Sshd } from '../remote/helpers/sshd-lab.ts';

const hostDir = fileURLToPath(new URL('../../deploy/host/', import.meta.url));
const onboard = join(hostDir, 'onboard-host.sh');
const collect = join(hostDir, 'collect-host-keys.sh');
const isRoot = process.getuid?.() === 0;

function sh(script: string, args: string[], cwd?: string) {
  return spawnSync('bash', [script, ...args], { encoding: 'utf8', cwd });
}

/** OpenSSH's fingerprint of one `type base64` key, as the operator would compute it on the host. */
function fingerprint(key: string): string {
  return execFileSync('ssh-keygen', ['-lf', '-'], { input: `${key}\n`, encoding: 'utf8' }).split(' ')[1]!;
}

describe('deploy/host scripts are valid bash', () => {
  it.each([[onboard], [collect], [join(hostDir, 'why-blocked-change')], [join(hostDir, 'why-blocked-probe')]])('bash -n %s', (file) => {
    const shell = readFileSync(file, 'utf8').startsWith('#!/bin/sh') ? 'sh' : 'bash';
    const r = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.each([[onboard], [collect]])('%s uses strict mode and is executable', (file) => {
    expect(readFileSync(file, 'utf8')).toMatch(/^set -euo pipefail$/m);
    expect(statSync(file).mode & 0o111).not.toBe(0);
  });
});

describe.skipIf(!isRoot)('onboard-host.sh --root (a throwaway root, never the real user database)', () => {
  let dir: string;
  let root: string;
  let pub: string;
  let blob: string;
  const realPasswd = readFileSync('/etc/passwd', 'utf8');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), `wb-onboard-${process.pid}-`));
    root = join(dir, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'home'));
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
    writeFileSync(join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o600 });
    writeFileSync(join(root, 'etc/gshadow'), 'root:*::\n', { mode: 0o600 });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bot@why-blocked', '-f', join(dir, 'bot')]);
    pub = join(dir, 'bot.pub');
    blob = readFileSync(pub, 'utf8').split(' ')[1]!;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const args = (from: string, extra: string[] = []) => ['--pubkey', pub, '--from', from, '--root', root, ...extra];
  const keysFile = () => join(root, 'home/whyblocked/.ssh/authorized_keys');

  it('creates the user without a password, the restricted key line, and the validated sudoers', () => {
    const r = sh(onboard, args('10.20.0.5/32,10.20.0.6/32'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const passwd = readFileSync(join(root, 'etc/passwd'), 'utf8');
    expect(passwd).toMatch(/^whyblocked:x:\d+:\d+:why-blocked probes:\/home\/whyblocked:\/bin\/sh$/m);
    expect(readFileSync(join(root, 'etc/shadow'), 'utf8')).toMatch(/^whyblocked:\*:/m);
    expect(readFileSync(keysFile(), 'utf8')).toBe(`from="10.20.0.5/32,10.20.0.6/32",restrict ssh-ed25519 ${blob} why-blocked\n`);
    const uid = Number(/^whyblocked:x:(\d+):/m.exec(passwd)![1]);
    expect(statSync(keysFile())).toMatchObject({ uid });
    expect(statSync(keysFile()).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'home/whyblocked/.ssh')).mode & 0o777).toBe(0o700);
    const sudoers = join(root, 'etc/sudoers.d/why-blocked');
    expect(readFileSync(sudoers, 'utf8')).toBe(readFileSync(join(hostDir, 'why-blocked.sudoers'), 'utf8'));
    expect(statSync(sudoers).mode & 0o777).toBe(0o440);
    expect(execFileSync('visudo', ['-cf', sudoers], { encoding: 'utf8' })).toMatch(/parsed OK/);
    expect(readFileSync('/etc/passwd', 'utf8')).toBe(realPasswd);
  });

  it('is idempotent and rewrites the options of the same key, keeping other keys', () => {
    writeFileSync(keysFile(), `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKey1 other\n${readFileSync(keysFile(), 'utf8')}`);
    const again = sh(onboard, args('10.20.0.5/32,10.20.0.6/32'));
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/user whyblocked exists/);
    expect(again.stdout).toMatch(/sudoers unchanged/);
    expect(again.stdout).toMatch(/authorized_keys unchanged/);
    const moved = sh(onboard, args('10.30.0.0/24'));
    expect(moved.status).toBe(0);
    const lines = readFileSync(keysFile(), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/ other$/);
    expect(lines[1]).toBe(`from="10.30.0.0/24",restrict ssh-ed25519 ${blob} why-blocked`);
    expect(readFileSync(join(root, 'etc/passwd'), 'utf8').match(/^whyblocked:/gm)).toHaveLength(1);
  });

  it.each([['why-blocked-change'], ['why-blocked-probe']])('installs %s root-owned and executable when it ships next to the script', (name) => {
    const helper = join(root, 'usr/local/libexec/why-blocked', name);
    expect(statSync(helper)).toMatchObject({ uid: 0, gid: 0 });
    expect(statSync(helper).mode & 0o777).toBe(0o755);
    expect(statSync(join(root, 'usr/local/libexec/why-blocked')).mode & 0o777).toBe(0o755);
    expect(readFileSync(helper, 'utf8')).toBe(readFileSync(join(hostDir, name), 'utf8'));
  });

  it('every helper the sudoers file names is one the script installs, at that path', () => {
    const named = [...readFileSync(join(hostDir, 'why-blocked.sudoers'), 'utf8').matchAll(/\/usr\/local\/libexec\/why-blocked\/([\w-]+)/g)].map((m) => m[1]!);
    expect(new Set(named)).toEqual(new Set(['why-blocked-change', 'why-blocked-probe']));
    for (const name of named) expect(statSync(join(root, 'usr/local/libexec/why-blocked', name)).mode & 0o111).not.toBe(0);
  });

  it('renames the sudoers user for --user and still passes visudo', () => {
    const r = sh(onboard, args('10.20.0.5', ['--user', 'probe-ops']));
    expect(r.status).toBe(0);
    const text = readFileSync(join(root, 'etc/sudoers.d/why-blocked'), 'utf8');
    expect(text).toMatch(/^Defaults:probe-ops /m);
    expect(text).toMatch(/^probe-ops ALL=\(root\) NOPASSWD:/m);
    expect(text).not.toMatch(/^whyblocked /m);
  });

  it.each([
    ['no --pubkey', ['--from', '10.0.0.1', '--root', '@root'], /--pubkey is required/],
    ['no --from', ['--pubkey', '@pub', '--root', '@root'], /--from is required/],
    ['a CIDR with a bad prefix', ['--pubkey', '@pub', '--from', '10.0.0.0/33', '--root', '@root'], /not an IPv4\/IPv6 address or CIDR/],
    ['the whole internet', ['--pubkey', '@pub', '--from', '0.0.0.0/0', '--root', '@root'], /from anywhere/],
    ['a shell metacharacter in --from', ['--pubkey', '@pub', '--from', '10.0.0.1",command="id', '--root', '@root'], /not an IPv4/],
    ['a bad user name', ['--pubkey', '@pub', '--from', '10.0.0.1', '--user', 'Bad;Name', '--root', '@root'], /not a valid login name/],
    ['root as the probe user', ['--pubkey', '@pub', '--from', '10.0.0.1', '--user', 'root', '--root', '@root'], /must not be root/],
    ['a key file with options already', ['--pubkey', '@optkey', '--from', '10.0.0.1', '--root', '@root'], /does not start with a public key type/],
    ['a private key instead of the public one', ['--pubkey', '@priv', '--from', '10.0.0.1', '--root', '@root'], /exactly one key line|public key type/],
    ['a broken sudoers file', ['--pubkey', '@pub', '--from', '10.0.0.1', '--sudoers', '@badsudo', '--root', '@root'], /does not pass visudo -cf/],
    ['a missing probe helper', ['--pubkey', '@pub', '--from', '10.0.0.1', '--probe-helper', '/nonexistent/why-blocked-probe', '--root', '@root'], /--probe-helper \/nonexistent\/why-blocked-probe is not a readable file/],
    ['an unknown option', ['--pubkey', '@pub', '--from', '10.0.0.1', '--yes'], /unknown argument: --yes/],
  ])('refuses %s with exit 2 and changes nothing', (_name, rawArgs, message) => {
    const fresh = join(dir, `fresh-${Math.random().toString(36).slice(2)}`);
    mkdirSync(join(fresh, 'etc'), { recursive: true });
    writeFileSync(join(fresh, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
    writeFileSync(join(dir, 'optkey.pub'), `restrict ${readFileSync(pub, 'utf8')}`);
    writeFileSync(join(dir, 'bad.sudoers'), 'whyblocked ALL=(root NOPASSWD: /bin/true\n');
    const subst: Record<string, string> = { '@root': fresh, '@pub': pub, '@optkey': join(dir, 'optkey.pub'), '@priv': join(dir, 'bot'), '@badsudo': join(dir, 'bad.sudoers') };
    const r = sh(onboard, rawArgs.map((a) => subst[a] ?? a));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(readFileSync(join(fresh, 'etc/passwd'), 'utf8')).toBe('root:x:0:0:root:/root:/bin/bash\n');
    expect(spawnSync('ls', [join(fresh, 'etc/sudoers.d')]).status).not.toBe(0);
  });
});

describe.skipIf(!isRoot)('collect-host-keys.sh against a real sshd on 127.0.0.1', () => {
  let lab: SshLab;
  let sshd: Sshd;
  let work: string;
  beforeAll(async () => {
    lab = createSshLab('hostkeys');
    sshd = await lab.start('target');
    work = mkdtempSync(join(tmpdir(), `wb-collect-${process.pid}-`));
  });
  afterAll(async () => {
    await lab?.teardown();
    rmSync(work, { recursive: true, force: true });
  });

  it('writes the key to the review file and prints the fingerprint the host itself would show', () => {
    const out = join(work, 'known_hosts.review');
    const r = sh(collect, ['--types', 'ed25519', '--out', out, `127.0.0.1:${sshd.port}`]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const review = readFileSync(out, 'utf8');
    expect(review).toContain(`[127.0.0.1]:${sshd.port} ${sshd.hostKey}`);
    expect(review).toMatch(/^# NOT TRUSTED YET/m);
    expect(r.stdout).toContain(fingerprint(sshd.hostKey));
    expect(r.stdout).toMatch(/OUT OF BAND/);
  });

  it('scans the hosts of an inventory, skipping jump-host entries with advice', () => {
    const inventory = join(work, 'inventory.yml');
    writeFileSync(inventory, [
      'hosts:',
      '  target:',
      '    address: 127.0.0.1',
      `    ssh: { user: whyblocked, port: ${sshd.port} }`,
      '  behind:',
      '    address: 10.99.0.1',
      `    ssh: { user: whyblocked, jump: target }`,
      '',
    ].join('\n'));
    const out = join(work, 'inventory.review');
    const r = sh(collect, ['--types', 'ed25519', '--inventory', inventory, '--out', out]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/skipping behind: it is reached through target/);
    const review = readFileSync(out, 'utf8');
    expect(review).toMatch(/^# target$/m);
    expect(review).toContain(`[127.0.0.1]:${sshd.port} ${sshd.hostKey}`);
    expect(review).not.toContain('10.99.0.1');
  });

  it('never overwrites an existing file or writes a live known_hosts', () => {
    const existing = join(work, 'known_hosts.review');
    const before = readFileSync(existing, 'utf8');
    const again = sh(collect, ['--out', existing, `127.0.0.1:${sshd.port}`]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/exists/);
    expect(readFileSync(existing, 'utf8')).toBe(before);
    const live = sh(collect, ['--out', join(work, 'known_hosts'), `127.0.0.1:${sshd.port}`]);
    expect(live.status).toBe(2);
    expect(live.stderr).toMatch(/looks like a live known_hosts/);
  });

  it('exits 3 and names the host when no key comes back', () => {
    const out = join(work, 'dead.review');
    const r = sh(collect, ['--timeout', '2', '--out', out, '127.0.0.1:1']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/no host key from 127\.0\.0\.1:1/);
  });
});

describe.skipIf(!isRoot)('the whole onboarding against a real sshd: onboard, collect, trust, log in', () => {
  let lab: SshLab;
  let work: string;
  let root: string;
  let user: string;
  let sshd: Sshd | undefined;
  const key = () => join(work, 'bot');
  const served = () => join(work, 'authorized_keys.served');

  beforeAll(() => {
    lab = createSshLab('onboard-flow');
    work = mkdtempSync(join(tmpdir(), `wb-onboard-flow-${process.pid}-`));
    openDir(work);
    root = join(work, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
    writeFileSync(join(root, 'etc/shadow'), '', { mode: 0o600 });
    writeFileSync(join(root, 'etc/gshadow'), '', { mode: 0o600 });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', key()]);
    // sshd needs a real account to log into; the lab removes it in teardown.
    user = lab.createUser();
  });
  afterAll(async () => {
    await sshd?.stop();
    await lab?.teardown();
    rmSync(work, { recursive: true, force: true });
  });

  /** Onboards into the throwaway root, then serves that authorized_keys line from a file sshd may read as the user. */
  function onboardFrom(from: string): void {
    const r = sh(onboard, ['--pubkey', `${key()}.pub`, '--from', from, '--user', user, '--root', root]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    writeFileSync(served(), readFileSync(join(root, 'home', user, '.ssh/authorized_keys')), { mode: 0o644 });
  }

  function login(knownHosts: string) {
    return spawnSync('ssh', [
      '-i', key(), '-p', String(sshd!.port), '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes',
      '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'ConnectTimeout=5', `${user}@127.0.0.1`, 'echo logged-in',
    ], { encoding: 'utf8' });
  }

  it('logs in with the reviewed host key when the workers\' address is in from=, and is refused otherwise', async () => {
    onboardFrom('127.0.0.1/32');
    sshd = await startSshd(work, 'onboarded', { authorizedKeys: served() });
    const review = join(work, 'known_hosts.review');
    const collected = sh(collect, ['--types', 'ed25519', '--out', review, `127.0.0.1:${sshd.port}`]);
    expect(collected.status).toBe(0);
    expect(collected.stdout).toContain(fingerprint(sshd.hostKey));

    const ok = login(review);
    expect(ok.stderr).not.toMatch(/Permission denied|Host key verification failed/);
    expect(ok.stdout.trim()).toBe('logged-in');

    // Unreviewed host: strict checking refuses, exactly what the bot does without known_hosts.
    writeFileSync(join(work, 'empty_known_hosts'), '');
    expect(login(join(work, 'empty_known_hosts')).stderr).toMatch(/Host key verification failed|No .* host key is known/);

    onboardFrom('10.99.0.0/24');
    const refused = login(review);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/Permission denied/);
  });
});
