import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { PlannedHost } from './plan-lab.ts';
import { runChecked } from './run-command.ts';

/** One ed25519 key pair without passphrase; returns the public key line. */
export async function generateKey(sshKeygen: string, file: string, comment: string, signal?: AbortSignal): Promise<string> {
  await runChecked([sshKeygen, '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], signal ? { signal } : {});
  return readFileSync(`${file}.pub`, 'utf8').trim();
}

function q(path: string): string {
  return `"${path}"`;
}

/** A self-contained sshd config: nothing from /etc/ssh, every path absolute and inside the lab dir. */
export function renderSshdConfig(paths: { hostKey: string; pidFile: string; authorizedKeys: string }): string {
  return [
    '# why-blocked lab sshd; started as `sshd -D -e -f <this file>` inside the host namespace',
    'Port 22',
    `HostKey ${q(paths.hostKey)}`,
    `PidFile ${q(paths.pidFile)}`,
    `AuthorizedKeysFile ${q(paths.authorizedKeys)}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    // The lab's keys live under the operator's checkout, whose modes sshd would reject.
    'StrictModes no',
    'UsePAM no',
    'UseDNS no',
    'LogLevel VERBOSE',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

/** Plain (unhashed) known_hosts lines: name, aliases and every address share the host's key. */
export function renderKnownHosts(entries: { host: PlannedHost; publicKey: string }[]): string {
  return entries.map(({ host, publicKey }) => {
    const [type, blob] = publicKey.split(/\s+/);
    return `${[host.name, ...host.aliases, ...host.addresses].join(',')} ${type} ${blob}\n`;
  }).join('');
}

/** The product's inventory format; relative paths resolve against the inventory's own folder. */
export function renderInventory(labName: string, scenario: string, hosts: PlannedHost[]): string {
  const doc = {
    defaults: { ssh: { user: 'root', port: 22, privateKey: './id_ed25519', knownHosts: './known_hosts', sudo: false } },
    hosts: Object.fromEntries(hosts.map((h) => [h.name, {
      address: h.addresses.length === 1 ? h.addresses[0] : h.addresses,
      ...(h.aliases.length > 0 ? { aliases: h.aliases } : {}),
      site: 'lab',
      // A least-privilege host: the product must go through sudo and the host's sudoers file.
      ...(h.login ? { ssh: { user: h.login.user, sudo: true } } : {}),
    }])),
  };
  return `# why-blocked lab ${labName} (scenario ${scenario}); removed by \`why-blocked lab down ${labName}\`\n${stringify(doc)}`;
}

export function writePrivateFile(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
}
