import { describe, expect, it } from 'vitest';
import { parseReachOutput } from '../../src/probes/reach-probe.ts';
import { parseConnectOutput, parseNcOutput } from '../../src/probes/connect-probe.ts';
import { classifyErrno } from '../../src/probes/classify-connect-error.ts';
import { workerConnectEvidence } from '../../src/probes/worker-connect.ts';
import type { ConnectData, ReachData } from '../../src/triage/evidence-types.ts';
import { connectFixture, fixture } from './fixture.ts';

const vantage = { kind: 'worker' as const };
const ctx = { target: '192.168.30.2', port: 23, vantage, connectTimeoutMs: 3000 };

describe('parseReachOutput (real iputils ping output)', () => {
  it('counts replies and rtt', () => {
    const text = fixture('ping-ok.txt');
    const ev = parseReachOutput({ code: 0, stdout: text, stderr: '' }, '192.168.30.2');
    const d = ev.data as ReachData;
    const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(text)![1]);
    expect(ev.ok).toBe(true);
    expect(d).toMatchObject({ transmitted: 2, received: 2, lossPct: 0 });
    expect(d.rttAvgMs).toBe(avg);
    expect(avg).toBeGreaterThan(0);
    expect(ev.raw.some((l) => l.startsWith('rtt'))).toBe(true);
  });
  it('reports total loss', () => {
    const ev = parseReachOutput({ code: 1, stdout: fixture('ping-loss.txt'), stderr: '' }, '192.168.30.2');
    expect(ev.ok).toBe(false);
    expect((ev.data as ReachData).lossPct).toBe(100);
    expect(ev.error).toBeUndefined();
  });
  it('keeps the ICMP errors ping printed (REJECT icmp-host-prohibited on ICMP)', () => {
    const ev = parseReachOutput({ code: 1, stdout: fixture('ping-prohibited.txt'), stderr: '' }, '192.168.30.2');
    expect((ev.data as ReachData).icmpErrors).toEqual(['Destination Host Prohibited']);
    expect(ev.summary).toContain('Destination Host Prohibited');
  });
  it('treats "Network is unreachable" as an answer about the path', () => {
    const ev = parseReachOutput({ code: 2, stdout: '', stderr: fixture('ping-no-route.txt') }, '10.99.99.99');
    expect(ev.ok).toBe(false);
    expect(ev.error).toBeUndefined();
    expect(ev.summary).toContain('Network is unreachable');
  });
  it('parses the BSD/busybox "round-trip" form', () => {
    const out = '3 packets transmitted, 3 packets received, 0% packet loss\nround-trip min/avg/max = 0.1/0.2/0.3 ms\n';
    expect((parseReachOutput({ code: 0, stdout: out, stderr: '' }, '10.0.0.1').data as ReachData).rttAvgMs).toBe(0.2);
  });
  it('a missing ping is failed evidence, not a crash', () => {
    const ev = parseReachOutput({ code: 127, stdout: '', stderr: 'bash: ping: command not found' }, '10.0.0.1');
    expect(ev).toMatchObject({ ok: false, error: { code: 'tool-missing' } });
  });
});

describe('parseConnectOutput (real bash /dev/tcp output)', () => {
  it.each([
    ['bash-connect-host-prohibited.txt', 'host-unreachable', 'EHOSTUNREACH'],
    ['bash-connect-admin-prohibited.txt', 'host-unreachable', 'EHOSTUNREACH'],
    ['bash-connect-net-prohibited.txt', 'net-unreachable', 'ENETUNREACH'],
    ['bash-connect-port-unreachable.txt', 'refused', 'ECONNREFUSED'],
    ['bash-connect-tcp-reset.txt', 'refused', 'ECONNREFUSED'],
    ['bash-connect-no-listener.txt', 'refused', 'ECONNREFUSED'],
    ['bash-connect-v6-adm-prohibited.txt', 'permission-denied', 'EACCES'],
    ['bash-connect-drop.txt', 'timeout', 'ETIMEDOUT'],
  ])('%s → %s', (file, outcome, errno) => {
    const ev = parseConnectOutput(connectFixture(file), ctx);
    expect(ev.ok).toBe(false);
    expect(ev.data as ConnectData).toMatchObject({ outcome, errno });
    expect(ev.summary).toContain(errno);
  });
  it('a successful connect to a server that keeps the connection open', () => {
    const d = parseConnectOutput(connectFixture('bash-connect-accept.txt'), ctx).data as ConnectData;
    expect(d.outcome).toBe('connected');
    expect(d.afterConnect).toBe('stayed-open');
    expect(d.serverClosedAtOnce).toBe(false);
  });
  it('recognises the TCP wrappers signature: accepted, then closed without a byte', () => {
    const ev = parseConnectOutput(connectFixture('bash-connect-server-closes.txt'), { ...ctx, port: 26 });
    expect((ev.data as ConnectData)).toMatchObject({ outcome: 'connected', afterConnect: 'server-closed', serverClosedAtOnce: true });
    expect(ev.summary).toContain('closed the connection at once');
  });
  it('a missing bash is failed evidence', () => {
    expect(parseConnectOutput({ code: 127, stdout: '', stderr: 'sh: bash: not found' }, ctx)).toMatchObject({ ok: false, error: { code: 'tool-missing' } });
  });
});

describe('parseNcOutput (real netcat-openbsd -z -v output)', () => {
  it.each([
    ['nc-host-prohibited.txt', 'host-unreachable'],
    ['nc-net-prohibited.txt', 'net-unreachable'],
    ['nc-tcp-reset.txt', 'refused'],
    ['nc-drop.txt', 'timeout'],
    ['nc-v6-adm-prohibited.txt', 'permission-denied'],
    ['nc-accept.txt', 'connected'],
  ])('%s → %s', (file, outcome) => {
    expect((parseNcOutput(connectFixture(file), ctx).data as ConnectData).outcome).toBe(outcome);
  });
});

describe('worker connect classification', () => {
  it.each([
    ['ECONNREFUSED', 'refused'], ['EHOSTUNREACH', 'host-unreachable'], ['ENETUNREACH', 'net-unreachable'],
    ['ETIMEDOUT', 'timeout'], ['EACCES', 'permission-denied'], ['EPERM', 'not-permitted'], ['EWEIRD', 'error'],
  ])('%s → %s', (code, outcome) => {
    expect(classifyErrno(code).outcome).toBe(outcome);
    const ev = workerConnectEvidence({ connected: false, errorCode: code, timeToOutcomeMs: 12 }, { target: '10.0.0.2', port: 23, vantage });
    expect((ev.data as ConnectData).outcome).toBe(outcome);
  });
  it('records the local address as the vantage address and the close-at-once signature', () => {
    const ev = workerConnectEvidence({ connected: true, localAddress: '10.0.0.1', timeToOutcomeMs: 3, afterConnect: 'server-closed' }, { target: '10.0.0.2', port: 23, vantage });
    expect(ev.data as ConnectData).toMatchObject({ outcome: 'connected', serverClosedAtOnce: true, vantage: { kind: 'worker', address: '10.0.0.1' } });
  });
});
