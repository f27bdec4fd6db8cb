import { describe, expect, it } from 'vitest';
import { assembleReport, type TriageRequestInput } from '../../src/triage/assemble-report.ts';
import { renderReportText } from '../../src/triage/render-report-text.ts';
import type { Cause, EvidenceItem, ProbeName } from '../../src/triage/report-types.ts';
import type {
  CaptureData, ConnectData, FirewallData, FlowVerdict, ListenerData, PersistenceData, TcpWrappersData,
} from '../../src/triage/evidence-types.ts';
import { parseConnectOutput } from '../../src/probes/connect-probe.ts';
import { captureEvidence } from '../../src/probes/capture-probe.ts';
import { analyzeFirewall, parseFirewallOutputs } from '../../src/probes/firewall-probe.ts';
import { parseListenerOutput } from '../../src/probes/listener-probe.ts';
import { parseReachOutput } from '../../src/probes/reach-probe.ts';
import { explainFlowWithAnalyzer, synthesizeFixesWithAnalyzer } from '../../src/probes/analyzer-adapters.ts';
import { connectFixture, fixture } from '../probes/fixture.ts';

const request: TriageRequestInput = { host: 'server', port: 23, protocol: 'tcp' };
const nowMs = Date.parse('2026-11-24T21:00:00Z');
const opts = { nowMs, startedAtMs: nowMs - 900 };

function ev(probe: ProbeName, data: unknown, ok = true, summary = `${probe} seen`): EvidenceItem {
  return { probe, ok, summary, raw: [], durationMs: 10, data };
}
const connect = (outcome: ConnectData['outcome'], extra: Partial<ConnectData> = {}): EvidenceItem =>
  ev('connect', { target: '10.0.0.2', port: 23, vantage: { kind: 'worker', address: '10.0.0.1' }, outcome, ...extra } satisfies ConnectData, outcome === 'connected');
const listener = (status: ListenerData['status'], acceptsTarget: boolean): EvidenceItem =>
  ev('listener', { port: 23, targetAddress: '10.0.0.2', sockets: status === 'none' ? [] : [{ local: status === 'loopback-only' ? '127.0.0.1:23' : '0.0.0.0:23', address: status === 'loopback-only' ? '127.0.0.1' : '0.0.0.0', port: 23, family: 'ipv4', scope: status === 'loopback-only' ? 'loopback' : 'all', processes: [{ name: 'in.telnetd', pid: 7 }] }], status, acceptsTarget, processes: [{ name: 'in.telnetd', pid: 7 }], processInfo: true } satisfies ListenerData);
const verdict = (v: FlowVerdict['verdict'], extra: Partial<FlowVerdict> = {}): FlowVerdict => ({ verdict: v, shadowedAccepts: [], unknowns: [], warnings: [], trace: [], ...extra });
const rule = (position: number | undefined, text?: string) => ({ source: 'iptables-legacy', table: 'filter', chain: 'INPUT', ...(position !== undefined ? { position } : { policy: 'drop' }), ...(text ? { rule: text } : {}) });
const firewall = (forward: FlowVerdict, reply: FlowVerdict = verdict('accept'), extra: Partial<FirewallData> = {}): EvidenceItem =>
  ev('firewall', {
    backend: { legacyTablesLoaded: true, legacy6TablesLoaded: false, nftPresent: false, firewalldActive: false, ufwActive: false },
    dumps: [{ source: 'iptables-legacy', format: 'iptables-save', text: '*filter\nCOMMIT\n' }], localAddresses: ['10.0.0.2'], interfaces: [], rpFilter: {}, missing: [],
    forwardFlow: { family: 'ipv4', proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 23, state: 'NEW' },
    replyFlow: { family: 'ipv4', proto: 'tcp', src: '10.0.0.2', dst: '10.0.0.1', sport: 23, dport: 40000, state: 'ESTABLISHED' },
    forward, reply, ...extra,
  } satisfies FirewallData, forward.verdict === 'accept');
const capture = (classification: CaptureData['classification'], extra: Partial<CaptureData> = {}): EvidenceItem =>
  ev('capture', { classification, synCount: classification === 'no-syn' ? 0 : 1, counterHits: [], rulesChanged: false, clientAddresses: ['10.0.0.1'], ...extra } satisfies CaptureData);
const wrappers = (decision: TcpWrappersData['decision'], honoured: TcpWrappersData['honoured']): EvidenceItem =>
  ev('tcp-wrappers', { daemon: 'in.telnetd', client: '10.0.0.1', decision, decidedBy: { file: '/etc/hosts.deny', line: 1, text: 'ALL: ALL' }, honoured, honouredReason: 'inetd.conf runs /usr/sbin/in.telnetd through tcpd', flags: [] } satisfies TcpWrappersData);

const accept = verdict('accept');
const table: { name: string; evidence: EvidenceItem[]; cause: Cause; keywords: RegExp[]; agrees?: boolean }[] = [
  {
    name: 'REJECT tcp-reset with a listener', cause: 'firewall-reject', agrees: true,
    evidence: [connect('refused', { errno: 'ECONNREFUSED' }), listener('all', true), firewall(verdict('reject', { rejectWith: 'tcp-reset', decidedBy: rule(4, '-A INPUT -p tcp --dport 23 -j REJECT --reject-with tcp-reset') })), capture('rst')],
    keywords: [/rule 4/, /rejects it with tcp-reset/],
  },
  {
    name: 'a DROP rule', cause: 'firewall-drop', agrees: true,
    evidence: [connect('timeout', { errno: 'ETIMEDOUT' }), listener('all', true), firewall(verdict('drop', { decidedBy: rule(3, '-A INPUT -p tcp --dport 23 -j DROP') })), capture('syn-unanswered', { synCount: 3 })],
    keywords: [/drops it silently/, /rule 3/],
  },
  {
    name: 'a DROP policy', cause: 'firewall-policy-drop', agrees: true,
    evidence: [connect('timeout'), listener('all', true), firewall(verdict('drop', { decidedBy: rule(undefined) })), capture('syn-unanswered')],
    keywords: [/No rule accepts it/, /policy/],
  },
  {
    name: 'nothing listening', cause: 'not-listening', agrees: true,
    evidence: [connect('refused'), listener('none', false), firewall(accept), capture('rst')],
    keywords: [/Nothing listens on TCP port 23/, /not the problem/],
  },
  {
    name: 'bound to 127.0.0.1 only', cause: 'bound-elsewhere', agrees: true,
    evidence: [connect('refused'), listener('loopback-only', false), firewall(accept), capture('rst')],
    keywords: [/listens only on 127\.0\.0\.1:23/],
  },
  {
    name: 'TCP wrappers denying on a libwrap service', cause: 'tcp-wrappers',
    evidence: [connect('connected', { afterConnect: 'server-closed', serverClosedAtOnce: true }), listener('all', true), firewall(accept), wrappers('deny', 'yes'), capture('syn-ack-completed', { serverClosedAfterHandshake: true })],
    keywords: [/hosts\.deny line 1/, /honours it/],
  },
  {
    name: 'TCP wrappers: tcpd delays its refusal, the static evaluation decides', cause: 'tcp-wrappers',
    evidence: [connect('connected', { afterConnect: 'stayed-open', serverClosedAtOnce: false }), listener('all', true), firewall(accept), wrappers('deny', 'yes'), capture('syn-ack-completed')],
    keywords: [/hosts\.deny line 1/, /stays silent/],
  },
  {
    name: 'hosts.deny matches a wrapped daemon, but the service sent data', cause: 'reachable',
    evidence: [connect('connected', { afterConnect: 'sent-data', serverClosedAtOnce: false }), listener('all', true), firewall(accept), wrappers('deny', 'yes'), capture('syn-ack-completed')],
    keywords: [/disagree/, /sent data/],
  },
  {
    name: 'hosts.deny matches, but the daemon ignores wrappers', cause: 'reachable',
    evidence: [connect('connected', { afterConnect: 'stayed-open', serverClosedAtOnce: false }), listener('all', true), firewall(accept), wrappers('deny', 'no'), capture('syn-ack-completed')],
    keywords: [/reachable/],
  },
  {
    name: 'blocked upstream', cause: 'blocked-upstream',
    evidence: [connect('timeout'), listener('all', true), firewall(accept), capture('no-syn')],
    keywords: [/No SYN from the client reaches the target/, /between the client and the target/],
  },
  {
    name: 'no SYN in the capture, but the deciding REJECT counted it: the counters win', cause: 'firewall-reject',
    evidence: [connect('host-unreachable'), listener('all', true), firewall(verdict('reject', { decidedBy: rule(5, '-A INPUT -j REJECT --reject-with icmp-host-prohibited') })),
      capture('no-syn', { counterHits: [{ source: 'iptables-legacy', table: 'filter', chain: 'INPUT', position: 5, rule: '-A INPUT -j REJECT --reject-with icmp-host-prohibited', packets: 1 }] })],
    keywords: [/INPUT rule 5/, /capture missed it/],
  },
  {
    name: 'no SYN in the capture and only an unrelated DROP counted: still upstream', cause: 'blocked-upstream',
    evidence: [connect('timeout'), listener('all', true), firewall(verdict('reject', { decidedBy: rule(5, '-A INPUT -j REJECT --reject-with icmp-host-prohibited') })),
      capture('no-syn', { counterHits: [{ source: 'iptables-legacy', table: 'filter', chain: 'INPUT', position: 2, rule: '-A INPUT -s 10.9.0.0/16 -j DROP', packets: 3 }] })],
    keywords: [/between the client and the target/],
  },
  {
    name: 'the reply dropped in OUTPUT', cause: 'reply-blocked', agrees: true,
    evidence: [connect('timeout'), listener('all', true), firewall(accept, verdict('drop', { decidedBy: { ...rule(1, '-A OUTPUT -p tcp --sport 23 -j DROP'), chain: 'OUTPUT' } })), capture('syn-unanswered')],
    keywords: [/blocks the target's answer/, /OUTPUT rule 1/],
  },
  {
    name: 'SYN-ACK sent but the client never completes', cause: 'no-return-path',
    evidence: [connect('timeout'), listener('all', true), firewall(accept), capture('syn-ack-incomplete')],
    keywords: [/never reaches the client/],
  },
  {
    name: 'reachable', cause: 'reachable', agrees: true,
    evidence: [connect('connected', { afterConnect: 'stayed-open', serverClosedAtOnce: false }), listener('all', true), firewall(accept), capture('syn-ack-completed')],
    keywords: [/reachable/],
  },
  {
    name: 'ssh unreachable: only the vantage view', cause: 'ssh-unreachable',
    evidence: [connect('host-unreachable', { errno: 'EHOSTUNREACH' })],
    keywords: [/could not be inspected/, /EHOSTUNREACH/],
  },
  {
    name: 'inconclusive', cause: 'unknown',
    evidence: [connect('timeout'), listener('all', true), firewall(accept), capture('syn-unanswered')],
    keywords: [/disagree/, /sent nothing back/],
  },
];

describe('assembleReport: one cause per evidence set', () => {
  it.each(table)('$name → $cause', ({ evidence, cause, keywords, agrees }) => {
    const failures = cause === 'ssh-unreachable' ? [{ probe: 'listener' as const, message: 'ssh: connect timed out' }] : [];
    const report = assembleReport(request, evidence, failures, opts);
    expect(report.cause).toBe(cause);
    for (const k of keywords) expect(report.summary).toMatch(k);
    if (agrees !== undefined) expect(report.symptomAgrees).toBe(agrees);
    expect(report.durationMs).toBe(900);
    expect(report.startedAt).toBe('2026-11-24T20:59:59.100Z');
  });

  it('service-side hints for not-listening and bound-elsewhere, never a firewall change', () => {
    for (const cause of ['not-listening', 'bound-elsewhere'] as const) {
      const row = table.find((r) => r.cause === cause)!;
      const report = assembleReport(request, row.evidence, [], { ...opts, synthesizeFixes: () => { throw new Error('must not be called'); } });
      expect(report.fixes).toHaveLength(1);
      expect(report.fixes[0]!.kind).toBe('service-hint');
      expect(report.fixes[0]!.rulesetAfter).toBe('');
    }
  });

  it('a failing fix synthesis is said, not thrown', () => {
    const row = table.find((r) => r.cause === 'firewall-drop')!;
    const report = assembleReport(request, row.evidence, [], { ...opts, synthesizeFixes: () => { throw new Error('no candidate'); } });
    expect(report.fixes).toEqual([]);
    expect(report.summary).toContain('No fix could be computed: no candidate');
  });
});

describe('disagreements are stated, never resolved silently', () => {
  it('simulation ACCEPT vs live ICMP prohibited', () => {
    const report = assembleReport(request, [
      connect('host-unreachable', { errno: 'EHOSTUNREACH' }), listener('all', true), firewall(accept),
      capture('icmp-unreachable', { icmp: { family: 'ipv4', type: 3, code: 10, name: 'host-prohibited', from: '10.0.0.2' } }),
    ], [], opts);
    expect(report.cause).toBe('firewall-reject');
    expect(report.symptomAgrees).toBe(false);
    expect(report.summary).toMatch(/Live evidence and the simulation disagree/);
    expect(report.summary).toMatch(/accepts this flow, but the target answered the SYN with ICMP host-prohibited/);
  });
  it('simulation REJECT vs a live connection that works', () => {
    const report = assembleReport(request, [connect('connected'), listener('all', true), firewall(verdict('reject', { decidedBy: rule(5) })), capture('syn-ack-completed')], [], opts);
    expect(report.cause).toBe('reachable');
    expect(report.summary).toMatch(/yet the live connection succeeded/);
  });
  it('the counters name a different rule than the simulation', () => {
    const report = assembleReport(request, [
      connect('refused'), listener('all', true), firewall(verdict('reject', { decidedBy: rule(5) })),
      capture('icmp-unreachable', { counterHits: [{ source: 'iptables-legacy', table: 'filter', chain: 'INPUT', position: 2, rule: '-A INPUT -j REJECT', packets: 1 }] }),
    ], [], opts);
    expect(report.summary).toMatch(/counters that rose during the test belong to filter\/INPUT rule 2, not to filter\/INPUT rule 5/);
  });
});

describe('warnings', () => {
  it('persistence drift, unknown matches, rules changed, ipv6 differs, vantage not client', () => {
    const fw = firewall(verdict('accept', { unknowns: ['filter/INPUT rule 3: -m recent'] }), verdict('accept'), {
      otherFamily: { ...verdict('reject', { decidedBy: rule(2) }), flow: { family: 'ipv6', proto: 'tcp', src: 'fd00::1', dst: 'fd00::2', dport: 23 } },
    });
    const persistence = ev('persistence', { savedFiles: [{ path: '/etc/sysconfig/iptables', kind: 'iptables' }], compared: '/etc/sysconfig/iptables', saved: verdict('reject', { decidedBy: rule(5) }), drift: { onlyRuntime: ['-A INPUT -p tcp --dport 23 -j ACCEPT'], onlySaved: [] } } satisfies PersistenceData, false);
    const report = assembleReport({ ...request, from: '10.9.9.9' }, [connect('connected'), listener('all', true), fw, capture('syn-ack-completed', { rulesChanged: true }), persistence], [], opts);
    expect(report.warnings.map((w) => w.code).sort()).toEqual(['ipv6-differs', 'persistence-drift', 'rules-changed-during-triage', 'unknown-match', 'vantage-not-client']);
    expect(report.warnings.find((w) => w.code === 'persistence-drift')?.message).toMatch(/After a reboot this flow will be rejected/);
    expect(report.from).toEqual({ kind: 'address', address: '10.9.9.9' });
  });
});

describe('the seed, from real probe outputs and the real analyzer', () => {
  const collected = parseFirewallOutputs({
    'iptables-version': { code: 0, stdout: fixture('iptables-V-legacy.txt'), stderr: '' },
    'iptables-legacy-save': { code: 0, stdout: fixture('iptables-legacy-save.seed.txt'), stderr: '' },
    addresses: { code: 0, stdout: fixture('ip-j-addr.json'), stderr: '' },
  });
  const vantage = { kind: 'worker' as const, address: '192.168.30.1' };
  const connectEv = parseConnectOutput(connectFixture('bash-connect-host-prohibited.txt'), { target: '192.168.30.2', port: 23, vantage });
  const evidence: EvidenceItem[] = [
    parseReachOutput({ code: 0, stdout: fixture('ping-ok.txt'), stderr: '' }, '192.168.30.2'),
    connectEv,
    parseListenerOutput({ code: 0, stdout: 'LISTEN 0 128 0.0.0.0:23 0.0.0.0:* users:(("inetd",pid=9,fd=5))\n', stderr: '' }, { port: 23, targetAddress: '192.168.30.2', withProcesses: true }),
    analyzeFirewall(collected, { client: '192.168.30.1', target: '192.168.30.2', port: 23, inIface: 'eth0' }, explainFlowWithAnalyzer),
    captureEvidence({
      tcpdump: { code: 0, stdout: `${fixture('tcpdump-host-prohibited.txt')}11:00:00.000000 IP 192.168.30.2 > 192.168.30.1: ICMP host 192.168.30.2 unreachable - admin prohibited, length 60\n`, stderr: fixture('tcpdump-host-prohibited.stderr.txt') },
      ctx: { clientAddresses: ['192.168.30.1'], port: 23 }, connect: connectEv,
      counters: [{ source: 'iptables-legacy', before: { code: 0, stdout: fixture('iptables-legacy-save-c.before.txt'), stderr: '' }, after: { code: 0, stdout: fixture('iptables-legacy-save-c.after.txt'), stderr: '' } }],
    }),
  ];
  const report = assembleReport(request, evidence, [], { ...opts, synthesizeFixes: synthesizeFixesWithAnalyzer });

  it('is a shadowed ACCEPT: REJECT at INPUT 5 above the ACCEPT at INPUT 6', () => {
    expect(report.cause).toBe('firewall-shadowed-accept');
    expect(report.decidedBy).toMatchObject({ table: 'filter', chain: 'INPUT', position: 5, rule: '-A INPUT -j REJECT --reject-with icmp-host-prohibited' });
    expect(report.summary).toMatch(/filter\/INPUT rule 5/);
    expect(report.summary).toMatch(/filter\/INPUT rule 6/);
    expect(report.summary).toMatch(/EHOSTUNREACH/);
    expect(report.summary).toMatch(/host-prohibited/);
    expect(report.summary).toMatch(/counter rose by/);
    expect(report.summary).not.toMatch(/disagree/);
  });
  it('the predicted symptom agrees with the observed one', () => {
    expect(report.symptomAgrees).toBe(true);
    expect(report.predictedSymptom).toMatch(/EHOSTUNREACH/);
    expect(report.observedSymptom).toMatch(/EHOSTUNREACH/);
  });
  it('offers firewall fixes for the target host', () => {
    expect(report.fixes.length).toBeGreaterThan(0);
    expect(report.fixes.every((f) => f.kind === 'firewall' && f.host === 'server')).toBe(true);
    expect(report.rulesetHash).toMatch(/^sha256:/);
  });
  it('renders the decider first, then the evidence', () => {
    const text = renderReportText(report);
    const lines = text.split('\n');
    expect(lines[0]).toBe('server (192.168.30.2) tcp/23 from this machine: firewall-shadowed-accept');
    expect(lines[1]).toMatch(/^Decided by: filter\/INPUT rule 5 \[iptables-legacy\]: -A INPUT -j REJECT/);
    expect(text).toMatch(/FAIL capture +the SYN arrived and the target answered with ICMP unreachable \(host-prohibited/);
    expect(text.indexOf('Evidence:')).toBeGreaterThan(text.indexOf('Decided by'));
    expect(text).toMatch(/Fixes:\n {2}1\./);
  });
  it('is JSON-clean (it crosses Redis)', () => {
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });
});
