import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../../src/remote/executor.ts';
import type { RunCommand } from '../../src/probes/ports.ts';
import { explainFlowWithAnalyzer, synthesizeFixesWithAnalyzer } from '../../src/probes/analyzer-adapters.ts';
import { createTriageProbes } from '../../src/probes/triage-probes.ts';
import type { FirewallData, FlowSpec } from '../../src/triage/evidence-types.ts';
import { fixture } from './fixture.ts';

const result = (code: number, stdout = '', stderr = ''): ExecResult => ({ code, stdout, stderr, durationMs: 1, truncated: false, timedOut: false });
const notFound = (tool: string): ExecResult => result(127, '', `timeout: failed to run command '${tool}': No such file or directory`);

/** A target that has the save tools `present` and records what it was asked to run. */
function fakeTarget(present: string[]): { run: RunCommand; asked: string[] } {
  const asked: string[] = [];
  const run: RunCommand = async (cmd) => {
    const tool = cmd.argv[0]!;
    asked.push(tool);
    if (/tables(-legacy|-nft)?-save$/.test(tool)) {
      if (!present.includes(tool)) return notFound(tool);
      // The rules live in the legacy tables (or, on an old host, behind the only tool there is).
      return result(0, tool === 'iptables-legacy-save' || tool === 'iptables-save' ? fixture('iptables-legacy-save.seed.txt') : '');
    }
    if (tool === 'iptables') return result(0, present.includes('iptables-legacy-save') ? 'iptables v1.8.9 (legacy)\n' : 'iptables v1.4.21\n');
    return result(1);
  };
  return { run, asked };
}
const runLocal: RunCommand = async () => result(1);

describe('firewall probe: which save tools it asks for', () => {
  it.each([
    ['a current host (suffixed tools)', ['iptables-legacy-save', 'iptables-nft-save', 'ip6tables-legacy-save', 'ip6tables-nft-save'], false],
    ['a RHEL 7 era host (only the unsuffixed tools)', ['iptables-save', 'ip6tables-save'], true],
  ])('%s', async (_what, present, fallsBack) => {
    const target = fakeTarget(present);
    const probes = createTriageProbes({ port: 23 }, { target: { name: 'server', address: '192.168.30.2', run: target.run }, runLocal, now: Date.now });
    const ev = await probes.run('firewall');
    const data = ev.data as FirewallData;
    // Either way the seed's filter table is read exactly once.
    expect(data.dumps.filter((d) => d.family === 'ipv4').map((d) => d.text)).toEqual([fixture('iptables-legacy-save.seed.txt')]);
    expect(target.asked.includes('iptables-save')).toBe(fallsBack);
    expect(target.asked.includes('ip6tables-save')).toBe(fallsBack);
    // The fixes name the tool the host has: `iptables` where the suffixed ones do not exist.
    const flow: FlowSpec = { family: 'ipv4', proto: 'tcp', src: '192.168.30.1', dst: '192.168.30.2', sport: 40000, dport: 23, inIface: 'eth0' };
    const host = { localAddresses: ['192.168.30.2'], interfaces: [{ name: 'eth0', addresses: ['192.168.30.2/24'] }] };
    const verdict = explainFlowWithAnalyzer({ dumps: data.dumps, flow, host });
    const fixes = synthesizeFixesWithAnalyzer({ dumps: data.dumps, flow, host, decidedBy: verdict.decidedBy!, targetHost: 'server' });
    expect(fixes.length).toBeGreaterThan(0);
    for (const fix of fixes) expect(fix.commands[0]).toMatch(fallsBack ? /^iptables -w / : /^iptables-legacy -w /);
  });
});
