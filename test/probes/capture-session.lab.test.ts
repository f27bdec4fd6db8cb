import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeLab } from '../helpers/lab-gate.ts';
import { localExec } from '../../src/remote/local-exec.ts';
import type { RemoteCommand } from '../../src/remote/remote-command.ts';
import { createLocalStreaming } from '../../src/probes/local-streaming.ts';
import { runCaptureSession } from '../../src/probes/capture-session.ts';
import { buildConnectCommand, parseConnectOutput } from '../../src/probes/connect-probe.ts';
import type { CaptureData, ConnectData } from '../../src/triage/evidence-types.ts';

// Two throwaway namespaces joined by a veth pair; all traffic stays inside them.
const tag = `wbcap${process.pid % 100000}`;
const client = `${tag}-c`;
const server = `${tag}-s`;
const clientIp = '192.168.30.1';
const serverIp = '192.168.30.2';

function sh(argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
const inNs = (ns: string) => (cmd: RemoteCommand): RemoteCommand => ({ ...cmd, argv: ['ip', 'netns', 'exec', ns, ...cmd.argv] });

function cleanup(): void {
  for (const ns of [client, server]) {
    try {
      for (const pid of sh(['ip', 'netns', 'pids', ns]).split('\n').filter((p) => p !== '')) {
        try { process.kill(Number(pid)); } catch { /* gone */ }
      }
    } catch { /* namespace absent */ }
    try { sh(['ip', 'netns', 'del', ns]); } catch { /* absent */ }
  }
}

describeLab('capture session with real tcpdump in namespaces', () => {
  beforeAll(() => {
    cleanup();
    sh(['ip', 'netns', 'add', client]);
    sh(['ip', 'netns', 'add', server]);
    sh(['ip', 'link', 'add', `${tag}c`, 'netns', client, 'type', 'veth', 'peer', 'name', `${tag}s`, 'netns', server]);
    for (const [ns, dev, ip] of [[client, `${tag}c`, clientIp], [server, `${tag}s`, serverIp]] as const) {
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      sh(['ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', dev]);
      sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    }
    // A listener on 23 that the REJECT hides, as in the seed; the ACCEPT for 23 comes after it.
    execFileSync('ip', ['netns', 'exec', server, 'sh', '-c', 'nc -lk -s 0.0.0.0 -p 23 >/dev/null 2>&1 </dev/null &']);
    sh(['ip', 'netns', 'exec', server, 'iptables-legacy', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
    sh(['ip', 'netns', 'exec', server, 'iptables-legacy', '-A', 'INPUT', '-p', 'tcp', '--dport', '23', '-j', 'REJECT', '--reject-with', 'icmp-host-prohibited']);
    sh(['ip', 'netns', 'exec', server, 'iptables-legacy', '-A', 'INPUT', '-p', 'tcp', '--dport', '23', '-j', 'ACCEPT']);
  });
  afterAll(cleanup);

  const deps = (triggered: string[]) => ({
    startStreaming: createLocalStreaming({ argvPrefix: ['ip', 'netns', 'exec', server] }),
    runOnTarget: (cmd: RemoteCommand) => localExec(inNs(server)(cmd), { sudo: false }),
    triggerConnect: async () => {
      triggered.push('connect');
      const cmd = buildConnectCommand({ address: serverIp, port: 23, connectTimeoutMs: 4000, holdMs: 200 });
      const out = await localExec(inNs(client)(cmd), { sudo: false });
      return parseConnectOutput(out, { target: serverIp, port: 23, vantage: { kind: 'inventory-host', name: 'client', address: clientIp } });
    },
  });

  it('classifies the REJECT: SYN answered by ICMP host-prohibited, the REJECT counter rose', async () => {
    const triggered: string[] = [];
    const { capture, connect } = await runCaptureSession(deps(triggered), {
      clientAddresses: [clientIp], port: 23, family: 'ipv4', iface: `${tag}s`, timeLimitMs: 15_000, settleMs: 3000,
    });
    expect(triggered).toEqual(['connect']);
    expect((connect?.data as ConnectData).outcome).toBe('host-unreachable');
    const d = capture.data as CaptureData;
    expect(d.classification).toBe('icmp-unreachable');
    expect(d.icmp).toMatchObject({ type: 3, code: 10, name: 'host-prohibited', from: serverIp });
    expect(d.rulesChanged).toBe(false);
    expect(d.counterHits).toContainEqual(expect.objectContaining({ source: 'iptables-legacy', table: 'filter', chain: 'INPUT', position: 2 }));
    expect(capture.raw.some((l) => l.includes('admin prohibited'))).toBe(true);
  });

  it('a capture that cannot start is evidence, and no connect is attempted', async () => {
    const triggered: string[] = [];
    const { capture } = await runCaptureSession(deps(triggered), {
      clientAddresses: [clientIp], port: 23, family: 'ipv4', iface: 'nosuchdev0', timeLimitMs: 5000,
    });
    expect(triggered).toEqual([]);
    expect(capture.ok).toBe(false);
    expect(capture.summary).toMatch(/capture did not start/);
  });
});
