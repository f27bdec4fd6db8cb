import { describe, expect, it } from 'vitest';
import { ErrorCode, WhyBlockedError } from '../../src/errors.ts';
import { buildReachCommand } from '../../src/probes/reach-probe.ts';
import { buildConnectCommand, connectScript } from '../../src/probes/connect-probe.ts';
import { buildLocalConnectCommands } from '../../src/probes/local-connect-probe.ts';
import { buildCaptureCommand } from '../../src/probes/capture-probe.ts';
import { buildExeCommand, buildLibwrapScanCommand } from '../../src/probes/tcp-wrappers-probe.ts';
import { buildRouteGetCommand, buildFirewallCommands } from '../../src/probes/firewall-probe.ts';
import { buildListenerCommand } from '../../src/probes/listener-probe.ts';
import { buildPersistenceCommands } from '../../src/probes/persistence-probe.ts';
import { connectFromWorker } from '../../src/probes/worker-connect.ts';
import { renderRemoteCommand } from '../../src/remote/remote-command.ts';

const badAddresses: unknown[] = ['', '192.168.30', '256.1.1.1', '10.0.0.1; id', '10.0.0.1\n', 'fe80::1%eth0', '10.0.0.0/24', 'example.com', '$(id)', '10.0.0.1\u0000', 42, undefined, null];
const badPorts: unknown[] = [0, 65536, -1, 23.5, '23', '23;id', NaN, Infinity, undefined];

function expectUnsafe(fn: () => unknown): void {
  let thrown: unknown;
  try { fn(); } catch (err) { thrown = err; }
  expect(thrown).toBeInstanceOf(WhyBlockedError);
  expect((thrown as WhyBlockedError).code).toBe(ErrorCode.UnsafeArgument);
}

describe('command builders refuse bad values and build nothing', () => {
  it.each(badAddresses)('address %j', (address) => {
    expectUnsafe(() => buildReachCommand({ address: address as string }));
    expectUnsafe(() => buildConnectCommand({ address: address as string, port: 23 }));
    expectUnsafe(() => buildLocalConnectCommands({ address: address as string, port: 23 }));
    expectUnsafe(() => buildCaptureCommand({ clientAddresses: [address as string], port: 23 }));
    expectUnsafe(() => buildRouteGetCommand({ address: address as string }));
  });
  it.each(badPorts)('port %j', (port) => {
    expectUnsafe(() => buildConnectCommand({ address: '10.0.0.2', port: port as number }));
    expectUnsafe(() => buildLocalConnectCommands({ address: '10.0.0.2', port: port as number }));
    expectUnsafe(() => buildCaptureCommand({ clientAddresses: ['10.0.0.1'], port: port as number }));
  });
  it.each([
    ['no client addresses', () => buildCaptureCommand({ clientAddresses: [], port: 23 })],
    ['interface with a slash', () => buildCaptureCommand({ clientAddresses: ['10.0.0.1'], port: 23, iface: 'eth0/../x' })],
    ['interface with a newline', () => buildCaptureCommand({ clientAddresses: ['10.0.0.1'], port: 23, iface: 'eth0\nid' })],
    ['packet count 0', () => buildCaptureCommand({ clientAddresses: ['10.0.0.1'], port: 23, packetCount: 0 })],
    ['ping count 1000', () => buildReachCommand({ address: '10.0.0.1', count: 1000 })],
    ['pid 0', () => buildExeCommand({ pid: 0 })],
    ['pid as text', () => buildExeCommand({ pid: '1; reboot' as unknown as number })],
    ['relative exe', () => buildLibwrapScanCommand({ exe: 'sshd' })],
    ['exe that is an option', () => buildLibwrapScanCommand({ exe: '-f' })],
    ['exe with ..', () => buildLibwrapScanCommand({ exe: '/usr/../etc/shadow' })],
    ['exe with a space', () => buildLibwrapScanCommand({ exe: '/usr/sbin/sshd (deleted)' })],
    ['persistence helper path not absolute', () => buildPersistenceCommands({ probeHelperPath: 'why-blocked-probe' })],
    ['negative connect timeout', () => buildConnectCommand({ address: '10.0.0.2', port: 23, connectTimeoutMs: -5 })],
  ])('%s', (_name, fn) => expectUnsafe(fn));
  it('the worker connect validates before opening a socket', () => {
    expectUnsafe(() => connectFromWorker({ address: '10.0.0.2; id', port: 23 }));
    expectUnsafe(() => connectFromWorker({ address: '127.0.0.1', port: 70000 }));
  });
});

describe('command builders produce fixed templates', () => {
  it('the connect script never contains the values; they travel as $1..$4', () => {
    const cmd = buildConnectCommand({ address: 'fd00:30::2', port: 23, connectTimeoutMs: 2000, holdMs: 500 });
    expect(cmd.argv).toEqual(['bash', '-c', connectScript, 'why-blocked-connect', 'fd00:30::2', '23', '0.500', '2']);
    expect(connectScript).not.toMatch(/fd00|\b23\b/);
    expect(cmd.timeoutMs).toBe(2500);
    expect(renderRemoteCommand(cmd, { sudo: true })).toContain("'fd00:30::2' '23' '0.500' '2'");
  });
  it('tcpdump: bounded, line-buffered, numeric, filtered on client and port, privileged', () => {
    const cmd = buildCaptureCommand({ clientAddresses: ['192.168.30.1', '10.0.0.9'], port: 23, packetCount: 20, timeLimitMs: 5000 });
    expect(cmd.argv.slice(0, 8)).toEqual(['tcpdump', '-n', '-l', '--immediate-mode', '-i', 'any', '-c', '20']);
    expect(cmd.argv[8]).toBe('(tcp port 23 and (host 192.168.30.1 or host 10.0.0.9)) or ((icmp or icmp6) and (host 192.168.30.1 or host 10.0.0.9))');
    expect(cmd).toMatchObject({ sudo: true, timeoutMs: 5000 });
  });
  it('ss needs sudo only with -p', () => {
    expect(buildListenerCommand({ withProcesses: true })).toMatchObject({ argv: ['ss', '-Hltnp'], sudo: true });
    expect(buildListenerCommand({ withProcesses: false }).sudo).toBeUndefined();
  });
  it('tcp wrappers: only readlink of a numeric /proc path needs sudo; the scan runs as the login user', () => {
    expect(buildExeCommand({ pid: 4242 })).toMatchObject({ argv: ['readlink', '-f', '/proc/4242/exe'], sudo: true });
    expect(buildLibwrapScanCommand({ exe: '/usr/sbin/inetd' })).toMatchObject({ argv: ['grep', '-sHcF', '-m1', 'libwrap.so', '--', '/usr/sbin/inetd'] });
    expect(buildLibwrapScanCommand({ exe: '/usr/sbin/inetd' }).sudo).toBeUndefined();
    expect(buildLibwrapScanCommand({ exe: '/usr/sbin/sshd' }).argv.slice(5)).toEqual(['/usr/sbin/sshd', '/usr/lib/openssh/sshd-session', '/usr/libexec/openssh/sshd-session']);
  });
  it('persistence: no shell anywhere; the nftables configs go through the root-owned helper', () => {
    const cmds = Object.values(buildPersistenceCommands());
    expect(cmds.flatMap((c) => c.argv.slice(0, 1))).not.toContain('sh');
    expect(buildPersistenceCommands()['nftables-conf'].argv).toEqual(['/usr/local/libexec/why-blocked/why-blocked-probe', 'nft-conf', '/etc/nftables.conf']);
    expect(buildPersistenceCommands({ probeHelperPath: '/opt/wb/why-blocked-probe' })['sysconfig-nftables-conf'].argv)
      .toEqual(['/opt/wb/why-blocked-probe', 'nft-conf', '/etc/sysconfig/nftables.conf']);
  });
  it('ping picks the family from the address', () => {
    expect(buildReachCommand({ address: '::1' }).argv.slice(0, 2)).toEqual(['ping', '-6']);
  });
  it('every fixed command renders (no control characters, sane timeouts)', () => {
    for (const cmd of [...Object.values(buildFirewallCommands()), ...Object.values(buildPersistenceCommands())]) {
      expect(() => renderRemoteCommand(cmd, { sudo: true })).not.toThrow();
    }
  });
});
