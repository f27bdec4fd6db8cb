import { buildCaptureCommand, buildCounterCommands } from '../../src/probes/capture-probe.ts';
import { buildFirewallCommands, buildIpsetSaveCommand } from '../../src/probes/firewall-probe.ts';
import { buildListenerCommand } from '../../src/probes/listener-probe.ts';
import { buildPersistenceCommands } from '../../src/probes/persistence-probe.ts';
import { buildExeCommand } from '../../src/probes/tcp-wrappers-probe.ts';
import { changeCommands, type ChangeBackend } from '../../src/fix/change-commands.ts';
import { firewalldPlan, ufwPlan, type ManagerPlan } from '../../src/fix/manager-fix.ts';
import type { RemoteCommand } from '../../src/remote/remote-command.ts';

export interface NamedCommand { name: string; cmd: RemoteCommand }

const backends: ChangeBackend[] = ['iptables-legacy', 'iptables-nft', 'ip6tables-legacy', 'ip6tables-nft', 'nft'];
const savedFiles: Record<ChangeBackend, string[]> = {
  'iptables-legacy': ['/etc/sysconfig/iptables', '/etc/iptables/rules.v4'],
  'iptables-nft': ['/etc/sysconfig/iptables', '/etc/iptables/rules.v4'],
  'ip6tables-legacy': ['/etc/sysconfig/ip6tables', '/etc/iptables/rules.v6'],
  'ip6tables-nft': ['/etc/sysconfig/ip6tables', '/etc/iptables/rules.v6'],
  nft: ['/etc/nftables.conf', '/etc/sysconfig/nftables.conf'],
};

function managerCommands(plan: ManagerPlan, name: string): NamedCommand[] {
  return [...plan.apply, ...plan.confirm, ...plan.undo].map((cmd, i) => ({ name: `${name} #${i}`, cmd }));
}

/**
 * Every command with `sudo: true` that the probes and the apply path can render, over the whole
 * range of their parameters (families, backends, modes, sizes). A new privileged command belongs
 * here; the sudoers tests then prove the shipped file allows it.
 */
export function privilegedCommands(): NamedCommand[] {
  const all: NamedCommand[] = [];
  const add = (name: string, cmd: RemoteCommand): void => { all.push({ name, cmd }); };
  for (const [k, cmd] of Object.entries(buildFirewallCommands())) add(`firewall ${k}`, cmd);
  add('firewall ipset save', buildIpsetSaveCommand());
  add('listener', buildListenerCommand({ withProcesses: true }));
  add('capture v4', buildCaptureCommand({ clientAddresses: ['192.0.2.1', '10.240.0.1', '10.0.0.255', '172.16.0.1'], port: 23, packetCount: 1000, timeLimitMs: 120_000 }));
  add('capture v6', buildCaptureCommand({ clientAddresses: ['fd00:30::1', '2001:db8::ffff:1'], port: 65535, iface: 'eth0' }));
  for (const family of ['ipv4', 'ipv6'] as const) for (const { source, cmd } of buildCounterCommands(family)) add(`counters ${source}`, cmd);
  for (const [k, cmd] of Object.entries(buildPersistenceCommands())) add(`persistence ${k}`, cmd);
  for (const pid of [1, 4242, 4_194_304]) add(`tcp-wrappers exe ${pid}`, buildExeCommand({ pid }));
  const c = changeCommands();
  const id = `prop-${'0123456789abcdef'.repeat(4)}`;
  const bigRules = `${'-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT\n'.repeat(200)}`;
  c.stage(id, bigRules).slice(0, 2).forEach((cmd, i) => add(`change stage ${i}`, cmd));
  add('change stage short id', c.stage('prop-0', '*filter\nCOMMIT\n')[0]!);
  for (const b of backends) {
    add(`change apply ${b}`, c.apply(id, b, b === 'nft' ? '{"nftables":[]}' : '*filter\nCOMMIT\n'));
    add(`change backup ${b}`, c.backup(id, b));
    add(`change restore ${b}`, c.restore(id, b));
    for (const mode of ['auto', 'setsid', 'systemd'] as const) add(`change arm ${b} ${mode}`, c.arm(id, 3600, b, mode));
    for (const file of savedFiles[b]) add(`change persist ${b} ${file}`, c.persist(b, file));
  }
  add('change disarm', c.disarm(id));
  add('change status (fresh-login check)', c.status('prop-0'));
  all.push(...managerCommands(firewalldPlan({ port: 23 }, 60), 'firewalld any'));
  all.push(...managerCommands(firewalldPlan({ port: 8443, source: '192.0.2.0/24', zone: 'public' }, 3600), 'firewalld v4 zone'));
  all.push(...managerCommands(firewalldPlan({ port: 23, source: 'fd00:30::1' }, 5), 'firewalld v6'));
  all.push(...managerCommands(ufwPlan({ port: 23 }), 'ufw any'));
  all.push(...managerCommands(ufwPlan({ port: 65535, source: '2001:db8::/64' }), 'ufw v6'));
  return all.filter((n) => n.cmd.sudo === true);
}

/**
 * Near misses of the allowed commands that must stay refused: other files, extra arguments,
 * writing options, the helpers' internal entry points, a shell. Checked by the parsing test and,
 * in the lab, by the real sudo.
 */
export const forbiddenArgvs: string[][] = [
  ['id'],
  ['bash', '-c', 'id'],
  ['sh', '-c', 'id'],
  ['grep', '-sH', '', '/etc/shadow'],
  ['grep', '-sH', '', '/proc/net/ip_tables_names', '/etc/shadow'],
  ['grep', '-sH', 'x', '/proc/net/ip_tables_names', '/proc/net/ip6_tables_names'],
  ['readlink', '-f', '/proc/1/exe', '/etc/shadow'],
  ['readlink', '-f', '/proc/self/exe'],
  ['readlink', '-f', '/proc/1/root/etc/shadow'],
  ['readlink', '-f', '/proc/01/exe'],
  ['iptables-save', '-f', '/etc/shadow'],
  ['iptables-legacy-save', '-M', '/tmp/x'],
  ['nft', '-f', '/tmp/rules'],
  ['nft', 'flush', 'ruleset'],
  ['ss', '-K', 'dport', '22'],
  ['tcpdump', '-n', '-l', '--immediate-mode', '-i', 'any', '-c', '40', '-w', '/tmp/x'],
  ['tcpdump', '-n', '-l', '--immediate-mode', '-i', 'any', '-c', '40', '-z', 'sh'],
  ['tcpdump', '-n', '-l', '--immediate-mode', '-i', 'any', '-c', '40', 'tcp', '-w', '/tmp/x'],
  ['/usr/local/libexec/why-blocked/why-blocked-probe', 'nft-conf', '/etc/shadow'],
  ['/usr/local/libexec/why-blocked/why-blocked-probe', 'nft-conf', '/tmp/nftables.conf'],
  ['/usr/local/libexec/why-blocked/why-blocked-probe', 'nft-conf', '/etc/nftables.conf', '/etc/shadow'],
  ['/usr/local/libexec/why-blocked/why-blocked-change', 'deadman-run', 'prop-1', '1', 'nft'],
  ['/usr/local/libexec/why-blocked/why-blocked-change', 'fire', 'prop-1', 'nft'],
  ['/usr/local/libexec/why-blocked/why-blocked-change', 'persist', 'nft', '/etc/shadow'],
  ['/usr/local/libexec/why-blocked/why-blocked-change', 'stage', 'prop-1', '0', 'a b'],
  ['firewall-cmd', '--permanent', '--add-rich-rule=rule family="ipv4" port port="23" protocol="tcp" drop'],
  ['firewall-cmd', '--add-rich-rule=rule family="ipv4" port port="23" protocol="tcp" accept', '--timeout=60s', '--permanent'],
  ['firewall-cmd', '--set-default-zone=trusted'],
  ['firewall-cmd', '--panic-on'],
  ['ufw', 'disable'],
  ['ufw', 'insert', '1', 'deny', 'proto', 'tcp', 'from', 'any', 'to', 'any', 'port', '22'],
  ['ufw', 'allow', 'from', 'any'],
];
