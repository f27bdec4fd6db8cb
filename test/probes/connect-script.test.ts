import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConnectCommand, parseConnectOutput } from '../../src/probes/connect-probe.ts';
import type { CommandOutput } from '../../src/probes/command-output.ts';
import type { ConnectData } from '../../src/triage/evidence-types.ts';

/**
 * The remote connect script run for real (bash, netcat-openbsd) against 127.0.0.1 servers that
 * behave like the cases triage must tell apart. The bash fallback runs with a PATH without nc.
 */
type Behaviour = 'close' | 'banner' | 'silent';
const servers: Partial<Record<Behaviour, Server>> = {};
const ports: Partial<Record<Behaviour | 'closed', number>> = {};
const open = new Set<Socket>();
let noNcDir: string;

function listen(onConn: (s: Socket) => void): Promise<Server> {
  const server = createServer((s) => { open.add(s); s.on('close', () => open.delete(s)); s.on('error', () => {}); onConn(s); });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function run(port: number, env?: NodeJS.ProcessEnv): Promise<CommandOutput> {
  const cmd = buildConnectCommand({ address: '127.0.0.1', port, connectTimeoutMs: 2000, holdMs: 300 });
  return new Promise((resolve) => {
    execFile(cmd.argv[0]!, cmd.argv.slice(1), { timeout: 10_000, ...(env ? { env } : {}) }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const ctx = (port: number) => ({ target: '127.0.0.1', port, vantage: { kind: 'inventory-host' as const, name: 'client' }, connectTimeoutMs: 2000 });

beforeAll(async () => {
  servers.close = await listen((s) => s.end());
  servers.banner = await listen((s) => s.write('lab telnet\r\n'));
  servers.silent = await listen(() => {});
  for (const k of ['close', 'banner', 'silent'] as const) ports[k] = (servers[k]!.address() as AddressInfo).port;
  const spare = await listen(() => {});
  ports.closed = (spare.address() as AddressInfo).port;
  await new Promise((r) => spare.close(r));
  // A PATH with what the bash branch needs, and no netcat.
  noNcDir = mkdtempSync(join(tmpdir(), 'wb-nonc-'));
  for (const tool of ['bash', 'date', 'head']) symlinkSync(`/usr/bin/${tool}`, join(noNcDir, tool));
});

afterAll(async () => {
  for (const s of open) s.destroy();
  await Promise.all(Object.values(servers).map((s) => new Promise((r) => s.close(r))));
  rmSync(noNcDir, { recursive: true, force: true });
});

const table: { name: string; port: 'close' | 'banner' | 'silent' | 'closed'; expect: Partial<ConnectData> }[] = [
  { name: 'nothing listens', port: 'closed', expect: { outcome: 'refused', errno: 'ECONNREFUSED' } },
  { name: 'the server closes at once (the TCP wrappers signature)', port: 'close', expect: { outcome: 'connected', afterConnect: 'server-closed', serverClosedAtOnce: true } },
  { name: 'the server sends a banner', port: 'banner', expect: { outcome: 'connected', afterConnect: 'sent-data', serverClosedAtOnce: false } },
  { name: 'the server stays silent', port: 'silent', expect: { outcome: 'connected', afterConnect: 'stayed-open', serverClosedAtOnce: false } },
];

describe('remote connect script: netcat-openbsd branch', () => {
  it.each(table)('$name', async ({ port, expect: want }) => {
    const out = await run(ports[port]!);
    expect(out.stdout).toMatch(/^tool nc$/m);
    expect(parseConnectOutput(out, ctx(ports[port]!)).data).toMatchObject(want);
  });
});

describe('remote connect script: bash /dev/tcp fallback when no netcat is installed', () => {
  it.each(table)('$name', async ({ port, expect: want }) => {
    const out = await run(ports[port]!, { PATH: noNcDir });
    expect(out.stdout).not.toMatch(/^tool /m);
    expect(parseConnectOutput(out, ctx(ports[port]!)).data).toMatchObject(want);
  });
});

describe('ncat (nmap) messages', () => {
  const rows: [string, string, Partial<ConnectData>][] = [
    ['connect-failed 3\n', 'Ncat: Version 7.94 ( https://nmap.org/ncat )\nNcat: No route to host.\n', { outcome: 'host-unreachable', errno: 'EHOSTUNREACH', message: 'No route to host' }],
    ['connect-failed 2\n', 'Ncat: Version 7.94 ( https://nmap.org/ncat )\nNcat: Connection refused.\n', { outcome: 'refused', errno: 'ECONNREFUSED' }],
    ['connect-failed 2001\n', 'Ncat: Version 7.94 ( https://nmap.org/ncat )\nNcat: TIMEOUT.\n', { outcome: 'timeout', errno: 'ETIMEDOUT' }],
    ['tool ncat\nconnected 4\nafter-connect 1 12\n', 'Ncat: Version 7.94 ( https://nmap.org/ncat )\nNcat: 0 bytes sent, 0 bytes received in 0.01 seconds.\n', { outcome: 'connected', serverClosedAtOnce: true }],
  ];
  it.each(rows)('%j / %j', (stdout, stderr, want) => {
    expect(parseConnectOutput({ code: 0, stdout: `tool ncat\n${stdout}`, stderr }, ctx(23)).data).toMatchObject(want);
  });

  it('netcat-openbsd: the strerror part is the message', () => {
    const d = parseConnectOutput({ code: 0, stdout: 'tool nc\nconnect-failed 21\n', stderr: 'nc: connect to 10.0.0.2 port 23 (tcp) failed: No route to host\n' }, ctx(23)).data as ConnectData;
    expect(d).toMatchObject({ outcome: 'host-unreachable', message: 'No route to host', timeToOutcomeMs: 21 });
  });
});
