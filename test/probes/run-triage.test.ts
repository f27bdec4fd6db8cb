import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, WhyBlockedError } from '../../src/errors.ts';
import { localExec } from '../../src/remote/local-exec.ts';
import { runTriage } from '../../src/probes/run-triage.ts';
import type { RunCommand } from '../../src/probes/ports.ts';
import type { ConnectData } from '../../src/triage/evidence-types.ts';

// Only 127.0.0.1: a closed port and a listener this test opens.
const runLocal: RunCommand = (cmd, opts) => localExec(cmd, { sudo: false, ...(opts?.signal ? { signal: opts.signal } : {}) });
const sshDown: RunCommand = () => Promise.reject(new WhyBlockedError(ErrorCode.SshConnectFailed, 'ssh to server: connect ECONNREFUSED'));
let server: Server;
let openPort = 0;
let closedPort = 0;

beforeAll(async () => {
  server = createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  openPort = (server.address() as { port: number }).port;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('runTriage', () => {
  it('target not inspectable: ssh-unreachable, with what the worker saw', async () => {
    const report = await runTriage({ port: closedPort }, { target: { name: 'server', address: '127.0.0.1', run: sshDown }, runLocal, now: Date.now, budgetMs: 8000 });
    expect(report.cause).toBe('ssh-unreachable');
    const connect = report.evidence.find((e) => e.probe === 'connect');
    expect((connect?.data as ConnectData).outcome).toBe('refused');
    expect(report.summary).toMatch(/could not be inspected/);
    expect(report.evidence.find((e) => e.probe === 'listener')?.error?.message).toMatch(/ECONNREFUSED/);
  });

  it('a server that accepts then closes at once is seen from the worker', async () => {
    const report = await runTriage({ port: openPort }, { target: { name: 'server', address: '127.0.0.1', run: sshDown }, runLocal, now: Date.now, budgetMs: 8000 });
    expect((report.evidence.find((e) => e.probe === 'connect')?.data as ConnectData)).toMatchObject({ outcome: 'connected', serverClosedAtOnce: true });
  });

  it('probes still running at the deadline are reported as not finished', async () => {
    const hang: RunCommand = (_cmd, opts) => new Promise((_resolve, reject) => {
      opts?.signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
    const report = await runTriage({ port: closedPort }, { target: { name: 'server', address: '127.0.0.1', run: hang }, runLocal: hang, now: Date.now, budgetMs: 600, connectTimeoutMs: 300 });
    expect(report.cause).toBe('ssh-unreachable');
    expect(report.evidence.filter((e) => e.error).map((e) => e.probe)).toEqual(expect.arrayContaining(['listener', 'firewall']));
  });
});
