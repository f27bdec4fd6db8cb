import { ErrorCode, WhyBlockedError } from '../../src/errors.ts';
import type { InventoryHost } from '../../src/config/inventory-types.ts';
import type { TriageRequest } from '../../src/queue/job-schemas.ts';
import type { AssembleReport, ProbePlan, ResolveHost, RunProbe } from '../../src/queue/triage-ports.ts';
import type { EvidenceItem, ProbeName, TriageReport } from '../../src/triage/report-types.ts';

// Small stand-ins for the triage engine's ports (inventory, probe plan, probes, report assembly).

const host = (name: string, addresses: string[], aliases: string[], site = 'dc1'): InventoryHost => ({
  name, addresses, aliases, site, ssh: { user: 'probe', port: 22, sudo: true, readyTimeoutMs: 5000 },
});

export const fakeInventory: InventoryHost[] = [
  host('web01', ['10.0.0.5'], ['web']),
  host('web02', ['10.0.0.6'], []),
  host('db01', ['10.0.0.7'], ['postgres']),
  host('client1', ['10.0.0.9'], []),
  host('edge01', ['10.9.0.1'], [], 'edge'),
];

export const fakeResolveHost: ResolveHost = (input) => {
  const found = fakeInventory.find((h) => h.name === input || h.aliases.includes(input) || h.addresses.includes(input));
  if (found) return found;
  const suggestions = fakeInventory.map((h) => h.name).filter((n) => n.slice(0, 3) === input.slice(0, 3));
  throw new WhyBlockedError(ErrorCode.UnknownHost, `Unknown host "${input}".`, { details: { suggestions } });
};

export const fakeProbePlan: ProbePlan = () => ['connect', 'listener', 'firewall', 'capture'];

/** Every probe succeeds at once; capture returns tcpdump-like lines. */
export const fakeRunProbe: RunProbe = async (name: ProbeName, request: TriageRequest) => ({
  probe: name,
  ok: name !== 'connect',
  summary: name === 'connect' ? 'SYN answered by ICMP host-prohibited' : `${name} ok for ${request.host}:${request.port}`,
  raw: name === 'capture'
    ? ['12:00:00.000001 IP 10.0.0.9.51514 > 10.0.0.5.23: Flags [S], seq 1', '12:00:00.000090 IP 10.0.0.5 > 10.0.0.9: ICMP host 10.0.0.5 unreachable - admin prohibited filter']
    : [`${name} line 1`],
  durationMs: 12,
});

export const seedSummary = "telnet (23/tcp) on web01 is rejected by web01's own firewall: INPUT rule 5 (REJECT icmp-host-prohibited) comes before the ACCEPT for 23/tcp (rule 6)";

export const fakeAssembleReport: AssembleReport = (request, evidence: EvidenceItem[], failures) => ({
  target: { host: request.host, address: '10.0.0.5' },
  port: request.port,
  protocol: 'tcp',
  from: request.from ? { kind: 'address', address: request.from } : { kind: 'worker' },
  cause: 'firewall-shadowed-accept',
  summary: failures.length > 0 ? `${seedSummary} (probes failed: ${failures.map((f) => f.probe).join(', ')})` : seedSummary,
  decidedBy: { source: 'iptables-save', table: 'filter', chain: 'INPUT', position: 5, rule: '-A INPUT -j REJECT --reject-with icmp-host-prohibited' },
  predictedSymptom: 'ICMP host-prohibited',
  observedSymptom: 'ICMP host-prohibited',
  symptomAgrees: true,
  evidence,
  warnings: [{ code: 'persistence-drift', message: 'this breaks again after a reboot: /etc/sysconfig/iptables still has the old order' }],
  fixes: [
    {
      id: 'fix-move-accept', title: 'Move the ACCEPT for 23/tcp above rule 5', host: request.host,
      commands: ['iptables -w -I INPUT 5 -p tcp --dport 23 -j ACCEPT'], rulesetAfter: '*filter\n-A INPUT -p tcp --dport 23 -j ACCEPT\nCOMMIT\n',
      effect: 'inserts ACCEPT tcp dport 23 at INPUT position 5 (before the REJECT)', blastRadius: ['opens 23/tcp to every source'], kind: 'firewall',
    },
    {
      id: 'fix-hint', title: 'Check the service', host: request.host, commands: [], rulesetAfter: '', effect: 'nothing to apply', blastRadius: [], kind: 'service-hint',
    },
  ],
  rulesetHash: 'sha256-abc',
  durationMs: 120,
  startedAt: new Date(0).toISOString(),
} satisfies TriageReport);
