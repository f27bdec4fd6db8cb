import { describe, expect, it } from 'vitest';
import { runCaptureSession } from '../../src/probes/capture-session.ts';
import type { RunCommand, StartStreaming } from '../../src/probes/ports.ts';
import type { ExecResult } from '../../src/remote/executor.ts';
import type { CaptureData } from '../../src/triage/evidence-types.ts';
import type { EvidenceItem } from '../../src/triage/report-types.ts';

const result = (code: number, stdout = '', stderr = ''): ExecResult => ({ code, stdout, stderr, durationMs: 1, truncated: false, timedOut: false });
const rules = (packets: number): string => [
  '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]',
  '[0:0] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT', `[${packets}:${packets * 60}] -A INPUT -j REJECT --reject-with icmp-host-prohibited`, 'COMMIT', '',
].join('\n');

/** The target's tcpdump saw the SYN answered by ICMP host-prohibited. */
const capture: StartStreaming = () => {
  const lines = [
    '10:00:00.000001 eth0  In  IP 10.0.0.1.40000 > 10.0.0.2.23: Flags [S], seq 1, win 64240, length 0',
    '10:00:00.000100 eth0  Out IP 10.0.0.2 > 10.0.0.1: ICMP host 10.0.0.2 unreachable - admin prohibited filter, length 68',
  ];
  return {
    ready: Promise.resolve(), stdoutLines: () => lines, waitForStdout: async () => true,
    stop: async () => result(0, `${lines.join('\n')}\n`, 'listening on eth0, link-type EN10MB\n'),
  };
};
const connect = async (): Promise<EvidenceItem> => ({ probe: 'connect', ok: false, summary: 'EHOSTUNREACH', raw: [], durationMs: 5 });

describe('capture counters on a host with only the unsuffixed iptables tools', () => {
  it.each([
    ['timeout reports the missing tool (root login)', result(127, '', "timeout: failed to run command 'iptables-legacy-save': No such file or directory")],
    ['sudo reports the missing tool', result(1, '', 'sudo: iptables-legacy-save: command not found')],
  ])('falls back to iptables-save -c when %s, and names the rule that rose', async (_what, missing) => {
    let snapshots = 0;
    const asked: string[] = [];
    const run: RunCommand = async (cmd) => {
      asked.push(cmd.argv.join(' '));
      if (cmd.argv[0] !== 'iptables-save') return missing;
      snapshots += 1;
      return result(0, rules(snapshots === 1 ? 3 : 4));
    };
    const { capture: ev } = await runCaptureSession({ startStreaming: capture, runOnTarget: run, triggerConnect: connect },
      { clientAddresses: ['10.0.0.1'], port: 23, family: 'ipv4' });
    const data = ev.data as CaptureData;
    expect(asked.filter((a) => a === 'iptables-save -c')).toHaveLength(2);
    expect(data.counterHits).toEqual([expect.objectContaining({ source: 'iptables-legacy', table: 'filter', chain: 'INPUT', position: 2, packets: 1 })]);
  });

  it('does not fall back when the suffixed tools answer', async () => {
    const asked: string[] = [];
    const run: RunCommand = async (cmd) => { asked.push(cmd.argv[0]!); return result(0, rules(1)); };
    await runCaptureSession({ startStreaming: capture, runOnTarget: run, triggerConnect: connect }, { clientAddresses: ['10.0.0.1'], port: 23, family: 'ipv4' });
    expect(asked).not.toContain('iptables-save');
  });
});
