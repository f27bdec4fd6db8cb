import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { openLab, startLab, type Lab } from '../../src/lab/index.ts';
import { describeLab } from '../helpers/lab-gate.ts';

/** Prints the connect() errno (or CONNECTED) as seen from inside a namespace. */
const connectScript = (host: string, port: number): string =>
  `const s=require('net').connect(${port},'${host}');s.setTimeout(5000,()=>{console.log('TIMEOUT');process.exit(0)});`
  + `s.on('connect',()=>{console.log('CONNECTED');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)})`;

function ssh(lab: Lab, knownHosts: string, address: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ssh', [
      '-F', '/dev/null', '-i', lab.privateKeyFile,
      '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5',
      `root@${address}`, command,
    ], { timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describeLab('lab seed-telnet: the incident, reproduced on real hosts', () => {
  let lab: Lab;
  let root: string;
  let server: string;
  let client: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'wb-lab-seed-'));
    lab = await startLab('seed-telnet', { labsRoot: root });
    server = lab.hosts.server!.addresses[0]!;
    client = lab.hosts.client!.addresses[0]!;
  });

  afterAll(async () => {
    await lab?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses telnet from the client at once with EHOSTUNREACH, while the listener is up', async () => {
    const fromClient = await lab.exec('client', [process.execPath, '-e', connectScript(server, 23)]);
    expect(fromClient.stdout.trim()).toBe('EHOSTUNREACH');
    // The firewall is the cause, not a missing listener: inside the server, port 23 answers.
    const local = await lab.exec('server', [process.execPath, '-e', connectScript(server, 23)]);
    expect(local.stdout.trim()).toBe('CONNECTED');
  });

  it('lets SSH in with only the lab known_hosts, strict checking and its key', async () => {
    const r = await ssh(lab, lab.knownHostsFile, server, 'cat /etc/sysconfig/iptables; ip -br addr show dev eth0');
    expect(r.stderr).not.toMatch(/verification failed/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(server);
    // The session runs inside the server's namespace and sees its /etc/netns files.
    expect(r.stdout).toContain('-A INPUT -p tcp --dport 23 -j ACCEPT');
  });

  it('refuses SSH when known_hosts pins another key for the server', async () => {
    const lines = readFileSync(lab.knownHostsFile, 'utf8').trim().split('\n');
    const clientKey = lines.find((l) => l.startsWith('client,'))!.split(' ').slice(1).join(' ');
    const tampered = join(root, 'known_hosts.tampered');
    writeFileSync(tampered, lines.map((l) => (l.startsWith('server,') ? `${l.split(' ')[0]} ${clientKey}` : l)).join('\n') + '\n');
    const r = await ssh(lab, tampered, server, 'touch /tmp/should-not-run');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('shows the ICMP admin-prohibited reply in a tcpdump on the server during a client connect', async () => {
    const dump = lab.spawn('server', ['tcpdump', '-n', '-l', '-i', 'eth0', '-c', '2', `host ${client} and (tcp port 23 or icmp)`]);
    let out = '';
    let err = '';
    dump.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const listening = new Promise<void>((resolve) => dump.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) resolve();
    }));
    const exited = new Promise<void>((resolve) => dump.on('close', () => resolve()));
    const kill = setTimeout(() => dump.kill('SIGKILL'), 8000);
    await Promise.race([listening, exited]);
    const r = await lab.exec('client', [process.execPath, '-e', connectScript(server, 23)]);
    await exited;
    clearTimeout(kill);
    expect(r.stdout.trim()).toBe('EHOSTUNREACH');
    expect(out).toMatch(new RegExp(`IP ${client.replace(/\./g, '\\.')}\\.\\d+ > ${server.replace(/\./g, '\\.')}\\.23: Flags \\[S\\]`));
    expect(out).toContain(`ICMP host ${server} unreachable - admin prohibited`);
  });

  it('gives the server its own /etc: the saved ruleset has the ACCEPT after the REJECT', async () => {
    const saved = await lab.exec('server', ['cat', '/etc/sysconfig/iptables']);
    expect(saved.code).toBe(0);
    const lines = saved.stdout.split('\n');
    const reject = lines.indexOf('-A INPUT -j REJECT --reject-with icmp-host-prohibited');
    const accept = lines.indexOf('-A INPUT -p tcp --dport 23 -j ACCEPT');
    expect(reject).toBeGreaterThan(0);
    expect(accept).toBeGreaterThan(reject);
    const allow = await lab.exec('server', ['cat', '/etc/hosts.allow']);
    expect(allow.stdout).toContain(`ALL: ${client}`);
    // The client sees none of it: the bind mount is per host.
    const onClient = await lab.exec('client', ['cat', '/etc/sysconfig/iptables']);
    expect(onClient.code).not.toBe(0);
  });

  it('loads the same bad order into the server kernel with iptables-legacy', async () => {
    const live = await lab.exec('server', ['iptables-legacy-save']);
    const rules = live.stdout.split('\n').filter((l) => l.startsWith('-A INPUT'));
    expect(rules.at(-2)).toBe('-A INPUT -j REJECT --reject-with icmp-host-prohibited');
    expect(rules.at(-1)).toBe('-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT');
  });

  it('can be reopened by name or directory, as another process would', async () => {
    for (const ref of [lab.name, lab.dir]) {
      const again = openLab(ref);
      expect(again.hosts.server!.addresses).toEqual([server]);
      expect(again.inventoryFile).toBe(lab.inventoryFile);
      const r = await again.exec('server', ['cat', '/etc/hosts.allow']);
      expect(r.stdout).toContain(`ALL: ${client}`);
    }
    expect(() => openLab('wbnosuchlab')).toThrow(/no lab named "wbnosuchlab"/);
  });

  it('writes an inventory, plain known_hosts and a private key the product can use', () => {
    const inv = parse(readFileSync(lab.inventoryFile, 'utf8')) as {
      defaults: { ssh: Record<string, unknown> };
      hosts: Record<string, { address: string; aliases?: string[]; site: string }>;
    };
    expect(inv.defaults.ssh).toEqual({ user: 'root', port: 22, privateKey: './id_ed25519', knownHosts: './known_hosts', sudo: false });
    expect(inv.hosts.server).toEqual({ address: server, aliases: ['server.lab'], site: 'lab' });
    expect(inv.hosts.client?.address).toBe(client);
    expect(statSync(lab.privateKeyFile).mode & 0o777).toBe(0o600);
    const known = readFileSync(lab.knownHostsFile, 'utf8');
    expect(known).toMatch(new RegExp(`^server,server\\.lab,${server.replace(/\./g, '\\.')} ssh-ed25519 AAAA\\S+$`, 'm'));
    expect(known).not.toContain('|1|');
  });
});
