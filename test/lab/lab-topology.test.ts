import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeLab } from '../helpers/lab-gate.ts';
import { startLab, type Lab, type LabScenario } from './lab-test-exports.ts';

/** The shape later scenarios need: a router between segments, IPv6, an nft-native firewall. */
const routed: LabScenario = {
  name: 'test-routed',
  summary: 'client and web on different segments, a router between them',
  ipv6: true,
  segments: [{ name: 'office' }, { name: 'dmz', reachVia: 'router' }],
  hosts: {
    router: {
      interfaces: [{ segment: 'office', hostId: 1 }, { segment: 'dmz', hostId: 1 }],
      sysctls: { 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1' },
      sshd: false,
    },
    web: {
      interfaces: [{ segment: 'dmz', hostId: 10 }],
      routes: [{ to: 'office', via: 'router' }],
      listeners: [
        { kind: 'tcp', address: '{{self}}', port: 80 },
        { kind: 'tcp', address: '::', port: 8080 },
        // inetd.conf style: tcpd checks hosts.allow/deny for daemon "cat", then execs /bin/cat.
        { kind: 'inetd', address: '0.0.0.0', port: 7, program: '/usr/sbin/tcpd', argv: ['/bin/cat'] },
      ],
      etcFiles: { 'hosts.allow': 'cat: {{router}}\n', 'hosts.deny': 'cat: {{client}}\n' },
      firewall: {
        backend: 'nft',
        rules: 'table inet filter {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    ip saddr {{client}} tcp dport 81 reject with tcp reset\n  }\n}\n',
      },
    },
    client: { interfaces: [{ segment: 'office', hostId: 20 }], routes: [{ to: 'dmz', via: 'router' }] },
  },
};

const connectScript = (host: string, port: number): string =>
  `const s=require('net').connect(${port},'${host}');s.setTimeout(5000,()=>{console.log('TIMEOUT');process.exit(0)});`
  + `s.on('connect',()=>{console.log('CONNECTED');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)})`;

describeLab('lab topology: routed segments, IPv6 and nft', () => {
  let lab: Lab;
  let root: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'wb-lab-topo-'));
    lab = await startLab(routed, { labsRoot: root });
  });

  afterAll(async () => {
    await lab?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('gives hosts v4 then v6 addresses on their own segments', () => {
    const [v4, v6] = lab.hosts.web!.addresses;
    expect(v4).toMatch(/^10\.\d+\.\d+\.74$/);
    expect(v6).toMatch(/^fd77:6200:[0-9a-f]+:1::a$/);
    expect(lab.hosts.router!.addresses).toHaveLength(4);
  });

  it('routes client traffic through the router, both address families', async () => {
    const [v4, v6] = lab.hosts.web!.addresses;
    const results = await Promise.all([[v4!, 80], [v4!, 81], [v6!, 8080]].map(async ([host, port]) =>
      (await lab.exec('client', [process.execPath, '-e', connectScript(String(host), Number(port))])).stdout.trim()));
    expect(results).toEqual(['CONNECTED', 'ECONNREFUSED', 'CONNECTED']);
    const ruleset = await lab.exec('web', ['nft', 'list', 'ruleset']);
    expect(ruleset.stdout).toContain('tcp dport 81 reject with tcp reset');
  });

  it('runs inetd-style services under tcpd, which honours the host\'s own hosts.deny', async () => {
    const web = lab.hosts.web!.addresses[0]!;
    // Connects, sends a line, reports what came back and how the connection ended.
    const echo = `const s=require('net').connect(7,'${web}');let d='',e=null;s.on('connect',()=>s.write('ping\\n'));`
      + `s.on('data',b=>{d+=b;if(d.includes('ping'))s.end()});s.on('error',x=>{e=x.code});s.on('close',()=>console.log(JSON.stringify({d,e})))`;
    // tcpd sleeps 5 s before closing a refused connection (clean_exit), so run both at once.
    const [denied, allowed] = (await Promise.all(['client', 'router'].map((from) => lab.exec(from, [process.execPath, '-e', echo]))))
      .map((r) => JSON.parse(r.stdout) as { d: string; e: string | null });
    // Denied after the handshake: connect() worked, then the server closed (or reset) without a byte.
    expect(denied!.d).toBe('');
    expect([null, 'ECONNRESET']).toContain(denied!.e);
    expect(allowed).toEqual({ d: 'ping\n', e: null });
  });

  it('reaches a host behind the router over SSH from the root namespace', async () => {
    const web = lab.hosts.web!.addresses[0]!;
    const out = await new Promise<string>((resolve, reject) => {
      execFile('ssh', ['-F', '/dev/null', '-i', lab.privateKeyFile, '-o', `UserKnownHostsFile=${lab.knownHostsFile}`,
        '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
        `root@${web}`, 'ip -br -4 addr show dev eth0'], { timeout: 15_000 }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)));
    });
    expect(out).toContain(`${web}/26`);
  });
});
