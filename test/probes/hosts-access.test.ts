import { describe, expect, it } from 'vitest';
import { evaluateHostsAccess, parseHostsFile } from '../../src/probes/hosts-access.ts';
import { detectLibwrap, parseLibwrapOutputs, parseServicesOutput, parseTcpWrappersOutputs, parseWrappersFiles } from '../../src/probes/tcp-wrappers-probe.ts';
import type { TcpWrappersData } from '../../src/triage/evidence-types.ts';

const client = { address: '192.168.30.1' };

describe('evaluateHostsAccess', () => {
  it.each([
    ['empty files grant', '', '', 'in.telnetd', client, 'allow', undefined],
    ['deny ALL: ALL', '', 'ALL: ALL', 'in.telnetd', client, 'deny', 1],
    ['allow first wins over deny', 'in.telnetd: 192.168.30.1', 'ALL: ALL', 'in.telnetd', client, 'allow', 1],
    ['allow for another daemon does not help', 'sshd: ALL', 'ALL: ALL', 'in.telnetd', client, 'deny', 1],
    ['address prefix a.b.c.', 'in.telnetd: 192.168.30.', 'ALL: ALL', 'in.telnetd', client, 'allow', 1],
    ['prefix not matching', 'in.telnetd: 192.168.3.', 'ALL: ALL', 'in.telnetd', client, 'deny', 1],
    ['net/mask', 'ALL: 192.168.30.0/255.255.255.0', 'ALL: ALL', 'in.telnetd', client, 'allow', 1],
    ['net/mask miss', 'ALL: 192.168.31.0/255.255.255.0', 'ALL: ALL', 'in.telnetd', client, 'deny', 1],
    ['EXCEPT excludes the client', 'ALL: 192.168.30. EXCEPT 192.168.30.1', 'ALL: ALL', 'in.telnetd', client, 'deny', 1],
    ['EXCEPT nests to the right', 'ALL: 192.168. EXCEPT 192.168.30. EXCEPT 192.168.30.1', '', 'sshd', client, 'allow', 1],
    ['daemon EXCEPT', 'ALL EXCEPT in.telnetd: ALL', 'ALL: ALL', 'in.telnetd', client, 'deny', 1],
    ['comma-separated lists, case-insensitive', 'SSHD, In.Telnetd : 10.0.0.1, 192.168.30.1', 'ALL:ALL', 'in.telnetd', client, 'allow', 1],
    ['comments and continuation lines', '# comment\nin.telnetd: 10.0.0.1 \\\n  192.168.30.1\n', 'ALL: ALL', 'in.telnetd', client, 'allow', 2],
    ['[v6]/plen', 'sshd: [fd00:30::]/64', 'ALL: ALL', 'sshd', { address: 'fd00:30::1' }, 'allow', 1],
    ['[v6] exact miss', 'sshd: [fd00:30::2]', 'ALL: ALL', 'sshd', { address: 'fd00:30::1' }, 'deny', 1],
    ['.domain needs DNS: unknown', 'ALL: .example.com', 'ALL: ALL', 'sshd', client, 'unknown', 1],
    ['.domain with a known name', 'ALL: .example.com', 'ALL: ALL', 'sshd', { ...client, hostname: 'pc1.example.com' }, 'allow', 1],
    ['LOCAL with a dotless name', 'ALL: LOCAL', 'ALL: ALL', 'sshd', { ...client, hostname: 'pc1' }, 'allow', 1],
    ['Debian "deny" option in hosts.allow', 'ALL: 192.168.30.1: DENY', '', 'sshd', client, 'deny', 1],
    ['Debian CIDR (flagged)', '', 'sshd: 192.168.30.0/24', 'sshd', client, 'deny', 1],
    ['a missing separator line is skipped', 'garbage line', '', 'sshd', client, 'allow', undefined],
  ] as const)('%s', (_name, allow, deny, daemon, who, decision, line) => {
    const r = evaluateHostsAccess({ allow, deny, daemon, client: who });
    expect(r.decision).toBe(decision);
    expect(r.decidedBy?.line).toBe(line);
  });

  it('flags distribution-dependent forms', () => {
    expect(evaluateHostsAccess({ allow: '', deny: 'sshd: 192.168.30.0/24', daemon: 'sshd', client }).flags.join()).toMatch(/Debian/);
    expect(evaluateHostsAccess({ allow: 'sshd: 192.168.30.*', deny: '', daemon: 'sshd', client }).flags.join()).toMatch(/Fedora/);
  });

  it('keeps IPv6 brackets intact when splitting fields', () => {
    const [e] = parseHostsFile('sshd: [fe80::1]/64 [::1] : spawn echo', '/etc/hosts.allow');
    expect(e?.clients).toEqual(['[fe80::1]/64', '[::1]']);
  });
});

describe('tcp wrappers probe', () => {
  const grepOut = [
    '/etc/hosts.allow:# allow nothing special',
    '/etc/hosts.deny:ALL: ALL',
    '/etc/inetd.conf:telnet\tstream\ttcp\tnowait\troot\t/usr/sbin/tcpd\t/usr/sbin/in.telnetd',
  ].join('\n');

  it('splits grep -H output by file', () => {
    const f = parseWrappersFiles(grepOut);
    expect(f.deny).toBe('ALL: ALL');
    expect(f.inetd).toContain('/usr/sbin/tcpd');
  });

  it('inetd + tcpd: denies, and the daemon honours it', () => {
    const ev = parseTcpWrappersOutputs({ files: { code: 2, stdout: grepOut, stderr: '' } }, { port: 23, client: '192.168.30.1', processName: 'inetd' });
    const d = ev.data as TcpWrappersData;
    expect(d).toMatchObject({ daemon: 'in.telnetd', decision: 'deny', honoured: 'yes' });
    expect(ev.ok).toBe(false);
    expect(ev.summary).toContain('honours');
  });

  it('sshd without libwrap: would deny, but the daemon ignores wrappers', () => {
    const exe = { code: 0, stdout: '/usr/sbin/sshd\n', stderr: '' };
    const scan = { code: 1, stdout: '/usr/sbin/sshd:0\n', stderr: '' };
    const ev = parseTcpWrappersOutputs({ files: { code: 2, stdout: '/etc/hosts.deny:ALL: ALL', stderr: '' }, exe, scan }, { port: 22, client: '192.168.30.1', processName: 'sshd' });
    expect(ev.data as TcpWrappersData).toMatchObject({ decision: 'deny', honoured: 'no' });
    expect(ev.ok).toBe(true);
    expect(ev.summary).toContain('ignores TCP wrappers');
  });

  it('a libwrap-linked sshd-session counts (Debian OpenSSH >= 9.8)', () => {
    // grep exits 2 because /usr/libexec/openssh/sshd-session is missing; the lines still count.
    const info = parseLibwrapOutputs({ exe: { code: 0, stdout: '/usr/sbin/sshd\n', stderr: '' }, scan: { code: 2, stdout: '/usr/sbin/sshd:0\n/usr/lib/openssh/sshd-session:1\n', stderr: '' } })!;
    expect(info.exe).toBe('/usr/sbin/sshd');
    expect(info.linked).toEqual([{ file: '/usr/sbin/sshd', libwrap: false }, { file: '/usr/lib/openssh/sshd-session', libwrap: true }]);
    expect(detectLibwrap({ processName: 'sshd', port: 22, files: parseWrappersFiles(''), libwrap: info }).honoured).toBe('yes');
  });

  it.each([
    ['sudo refused readlink', { code: 1, stdout: '', stderr: 'sudo: a password is required' }],
    ['the binary was replaced on disk', { code: 0, stdout: '/usr/sbin/sshd (deleted)\n', stderr: '' }],
    ['readlink printed nothing', { code: 0, stdout: '', stderr: '' }],
  ])('no usable executable (%s): honoured is unknown, nothing guessed', (_name, exe) => {
    expect(parseLibwrapOutputs({ exe })).toBeUndefined();
    const ev = parseTcpWrappersOutputs({ files: { code: 2, stdout: '/etc/hosts.deny:ALL: ALL', stderr: '' }, exe }, { port: 22, client: '192.168.30.1', processName: 'sshd' });
    expect(ev.data as TcpWrappersData).toMatchObject({ decision: 'deny', honoured: 'unknown' });
  });

  it('an unreadable binary leaves honoured unknown and says which file', () => {
    const libwrap = parseLibwrapOutputs({ exe: { code: 0, stdout: '/usr/sbin/sshd\n', stderr: '' }, scan: { code: 2, stdout: '', stderr: '' } });
    expect(detectLibwrap({ processName: 'sshd', port: 22, files: parseWrappersFiles(''), ...(libwrap ? { libwrap } : {}) }))
      .toMatchObject({ honoured: 'unknown', reason: 'could not read /usr/sbin/sshd to look for libwrap' });
  });

  it('inetd running the daemon directly: not honoured', () => {
    const files = parseWrappersFiles('/etc/inetd.conf:telnet stream tcp nowait root /usr/sbin/in.telnetd in.telnetd');
    expect(detectLibwrap({ processName: 'inetd', port: 23, files })).toMatchObject({ honoured: 'no', daemon: 'in.telnetd' });
  });

  it('maps the port to inetd.conf service names through /etc/services', () => {
    const services = 'webcache\t8080/tcp\t\thttp-alt\t# WWW caching service\n';
    expect(parseServicesOutput(services, 8080)).toEqual(['webcache', 'http-alt']);
    expect(parseServicesOutput('webcache 18080/tcp\n', 8080)).toEqual([]);
    const files = parseWrappersFiles('/etc/inetd.conf:http-alt stream tcp nowait nobody /usr/sbin/tcpd /usr/sbin/in.proxyd');
    expect(detectLibwrap({ processName: 'inetd', port: 8080, files })).toMatchObject({ honoured: 'unknown' });
    expect(detectLibwrap({ processName: 'inetd', port: 8080, files, services: parseServicesOutput(services, 8080) }))
      .toMatchObject({ honoured: 'yes', daemon: 'in.proxyd' });
  });

  it('reads the service name for the port from /etc/services in the same grep', () => {
    const grep = '/etc/inetd.conf:http-alt stream tcp nowait nobody /usr/sbin/tcpd /usr/sbin/in.proxyd\n/etc/services:http-alt\t8080/tcp\t\twebcache\n/etc/hosts.deny:in.proxyd: 10.0.0.1\n';
    const ev = parseTcpWrappersOutputs({ files: { code: 0, stdout: grep, stderr: '' } }, { port: 8080, client: '10.0.0.1', processName: 'inetd' });
    expect(ev.data as TcpWrappersData).toMatchObject({ daemon: 'in.proxyd', decision: 'deny', honoured: 'yes' });
  });

  it('a numeric inetd.conf service matches the port itself', () => {
    const files = parseWrappersFiles('/etc/inetd.conf:2323 stream tcp nowait root /usr/sbin/tcpd /bin/cat');
    expect(detectLibwrap({ processName: 'inetd', port: 2323, files })).toMatchObject({ honoured: 'yes', daemon: 'cat' });
  });
});
