import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/cli-command.ts';
import { runCli as runCliInProcess } from '../../src/cli/main.ts';
import { progressLine } from '../../src/cli/triage-command.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import { runCli } from '../helpers/run-cli.ts';

/**
 * The inventory points every host at 127.0.0.1 on the port of a TCP server that only counts
 * connections: a bad invocation must be refused before any of them happens.
 */
let dir: string;
let inventory: string;
let counter: Server;
let connections = 0;
let closedPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wb-triage-cli-'));
  counter = createServer((s) => { connections += 1; s.destroy(); });
  await new Promise<void>((r) => counter.listen(0, '127.0.0.1', r));
  const sshPort = (counter.address() as AddressInfo).port;
  const spare = createServer();
  await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r));
  closedPort = (spare.address() as AddressInfo).port;
  await new Promise((r) => spare.close(r));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id_ed25519')]);
  writeFileSync(join(dir, 'known_hosts'), '');
  inventory = join(dir, 'inventory.yml');
  writeFileSync(inventory, [
    'defaults:',
    `  ssh: { user: root, port: ${sshPort}, privateKey: ./id_ed25519, knownHosts: ./known_hosts, sudo: false }`,
    'hosts:',
    '  server:',
    '    address: 127.0.0.1',
    '  client:',
    '    address: 127.0.0.2',
    '',
  ].join('\n'));
});

afterAll(async () => {
  await new Promise((r) => counter.close(r));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => { connections = 0; });

describe('why-blocked triage: bad input is refused before anything runs', () => {
  const inv = (): string[] => ['--inventory', inventory];
  const cases: Array<[string, () => string[], RegExp]> = [
    ['no arguments', () => ['triage', ...inv()], /needs a HOST and a PORT/],
    ['a missing port', () => ['triage', 'server', ...inv()], /needs a HOST and a PORT/],
    ['port 0', () => ['triage', 'server', '0', ...inv()], /port must be an integer from 1 to 65535/],
    ['port 65536', () => ['triage', 'server', '65536', ...inv()], /port must be an integer from 1 to 65535/],
    ['a port with a shell command', () => ['triage', 'server', '23;id', ...inv()], /got "23;id"/],
    ['a UDP port', () => ['triage', 'server', '23/udp', ...inv()], /got "23\/udp"/],
    ['an unknown host, with suggestions', () => ['triage', 'servr', '23', ...inv()], /"servr" is not in the inventory .*did you mean "server"/],
    ['--from with shell metacharacters', () => ['triage', 'server', '23', '--from', 'client;id', ...inv()], /"client;id" is not in the inventory/],
    ['--from with a command substitution', () => ['triage', 'server', '23', '--from', '$(id)', ...inv()], /"\$\(id\)" is not in the inventory/],
    ['--timeout 0', () => ['triage', 'server', '23', '--timeout', '0', ...inv()], /--timeout must be a number of seconds/],
    ['--timeout abc', () => ['triage', 'server', '23', '--timeout', 'abc', ...inv()], /--timeout must be a number of seconds/],
    ['an unknown flag', () => ['triage', 'server', '23', '--frobnicate', ...inv()], /Unknown option '--frobnicate'/],
    ['extra arguments', () => ['triage', 'server', '23', 'extra', ...inv()], /unexpected arguments: extra/],
  ];
  it.each(cases)('%s: exit 2, nothing executed', async (_name, args, pattern) => {
    const r = await runCli(args());
    expect(r.stderr).toMatch(pattern);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(connections).toBe(0);
  });

  it('the control: a valid invocation does reach the host (so zero above means something)', async () => {
    const r = await runCli(['triage', 'server', String(closedPort), '--timeout', '5', '--json', ...inv()]);
    expect(connections).toBeGreaterThan(0);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ cause: 'ssh-unreachable' });
  });
});

function fakeIo(isTTY: boolean): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (c: string) => { out += c; return true; }, isTTY },
      stderr: { write: (c: string) => { err += c; return true; }, isTTY },
      env: { ...process.env, WHY_BLOCKED_INVENTORY: inventory }, cwd: dir, log: silentLogger(), signal: new AbortController().signal,
    },
    out: () => out,
    err: () => err,
  };
}

describe('why-blocked triage: progress and output', () => {
  it('on a terminal, a progress line per probe goes to stderr', async () => {
    const f = fakeIo(true);
    const code = await runCliInProcess(['triage', 'server', String(closedPort), '--timeout', '5'], f.io);
    expect(code).toBe(3);
    expect(f.err()).toMatch(/^checking server \d+\/tcp/m);
    expect(f.err()).toMatch(/^[✓✗] reach \d+ ms$/m);
    expect(f.err()).toMatch(/^✗ connect \d+ ms$/m);
    expect(f.err()).toMatch(/^! listener \d+ ms \(.+\)$/m);
    expect(f.out()).toMatch(/ssh-unreachable/);
  });

  it('piped: no progress lines, only the report on stdout', async () => {
    const f = fakeIo(false);
    const code = await runCliInProcess(['triage', 'server', String(closedPort), '--timeout', '5'], f.io);
    expect(code).toBe(3);
    expect(f.err()).not.toMatch(/[✓✗!] \w[\w-]* \d+ ms/);
    expect(f.err()).not.toMatch(/checking/);
    expect(f.out()).toMatch(/ssh-unreachable/);
  });

  it('--json prints the stable shape', async () => {
    const f = fakeIo(false);
    const code = await runCliInProcess(['triage', 'server', String(closedPort), '--timeout', '5', '--json'], f.io);
    expect(code).toBe(3);
    const j = JSON.parse(f.out()) as Record<string, unknown>;
    for (const key of ['target', 'port', 'from', 'cause', 'summary', 'decidedBy', 'evidence', 'warnings', 'fixes', 'durationMs']) expect(j).toHaveProperty(key);
    expect(j).toMatchObject({ target: { host: 'server', address: '127.0.0.1' }, port: closedPort, cause: 'ssh-unreachable' });
    expect(Array.isArray(j.evidence) && Array.isArray(j.warnings) && Array.isArray(j.fixes)).toBe(true);
    expect(typeof j.durationMs).toBe('number');
  });

  it('progress marks: passed, found a problem, could not run', () => {
    expect(progressLine({ probe: 'listener', ok: true, durationMs: 12.4 })).toBe('✓ listener 12 ms');
    expect(progressLine({ probe: 'connect', ok: false, durationMs: 3 })).toBe('✗ connect 3 ms');
    expect(progressLine({ probe: 'firewall', ok: false, durationMs: 40, error: 'ssh failed' })).toBe('! firewall 40 ms (ssh failed)');
  });
});
