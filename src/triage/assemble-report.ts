import { decideCause } from './decide-cause.ts';
import type { FirewallBackendInfo, FlowSpec, HostInterfaceInfo, RulesetDump } from './evidence-types.ts';
import type { EvidenceItem, FixOption, ProbeName, RuleRef, TriageReport, TriageWarning } from './report-types.ts';
import { outcomeText, predictOutcome } from './symptom-class.ts';
import { type Observations, observe } from './triage-observations.ts';
import { writeSummary } from './write-summary.ts';

export interface TriageRequestInput {
  host: string;
  port: number;
  protocol: 'tcp';
  /** Inventory host name or an IP literal. */
  from?: string;
}

export interface ProbeFailureInput { probe: ProbeName; message: string }

export interface SynthesizeFixesInput {
  dumps: RulesetDump[];
  /** Always the client's request; `blocked` says whether it or the host's answer to it must pass. */
  flow: FlowSpec;
  /** @defaultValue 'forward' */
  blocked?: 'forward' | 'reply';
  host: { localAddresses: string[]; interfaces: HostInterfaceInfo[] };
  decidedBy: RuleRef;
  targetHost: string;
  /** Which manager (firewalld, ufw) owns the rules, if any: fixes must then be expressed in its terms. */
  backend?: Pick<FirewallBackendInfo, 'firewalldActive' | 'ufwActive'>;
}

/** Fix synthesis (the analyzer's); may throw, may be absent. */
export type SynthesizeFixes = (input: SynthesizeFixesInput) => FixOption[];

export interface AssembleOptions {
  /** Wall clock at the end of the triage (ms since epoch). */
  nowMs: number;
  /** When the triage started; durationMs is nowMs − startedAtMs. @defaultValue nowMs − the probes' longest duration */
  startedAtMs?: number;
  synthesizeFixes?: SynthesizeFixes;
}

export function pastTense(v: 'accept' | 'drop' | 'reject' | 'unknown'): string {
  return { accept: 'accepted', drop: 'dropped', reject: 'rejected', unknown: 'undecided' }[v];
}

const ipLiteral = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)$/;

function vantageOf(request: TriageRequestInput, o: Observations): TriageReport['from'] {
  if (request.from === undefined) return { kind: 'worker', ...(o.connect?.vantage.address ? { address: o.connect.vantage.address } : {}) };
  if (ipLiteral.test(request.from)) return { kind: 'address', address: request.from };
  return { kind: 'inventory-host', name: request.from, ...(o.connect?.vantage.address ? { address: o.connect.vantage.address } : {}) };
}

function warningsFor(o: Observations, from: TriageReport['from']): TriageWarning[] {
  const w: TriageWarning[] = [];
  const fw = o.firewall;
  const p = o.persistence;
  if (p && fw?.forward) {
    const drift = p.drift.onlyRuntime.length + p.drift.onlySaved.length;
    const savedVerdict = p.saved?.verdict;
    if (savedVerdict !== undefined && savedVerdict !== fw.forward.verdict) {
      w.push({ code: 'persistence-drift', message: `After a reboot this flow will be ${pastTense(savedVerdict)} (${p.compared ?? 'saved rules'}), but it is ${pastTense(fw.forward.verdict)} now.` });
    } else if (drift > 0) {
      w.push({ code: 'persistence-drift', message: `The running rules differ from ${p.compared ?? 'the saved rules'} (${p.drift.onlyRuntime.length} line(s) only running, ${p.drift.onlySaved.length} only saved); a reboot or a service restart loads the saved ones.` });
    }
  }
  const unknowns = [...(fw?.forward?.unknowns ?? []), ...(fw?.reply?.unknowns ?? [])];
  if (unknowns.length > 0) w.push({ code: 'unknown-match', message: `Matches the simulator cannot judge offline: ${unknowns.slice(0, 3).join('; ')}${unknowns.length > 3 ? ` (+${unknowns.length - 3} more)` : ''}.` });
  if (o.capture?.rulesChanged) w.push({ code: 'rules-changed-during-triage', message: 'The rules changed while the test ran (the counter dumps differ in rules, not only in counts); re-run the triage before applying a fix.' });
  if (fw?.otherFamily && fw.forward && fw.otherFamily.verdict !== fw.forward.verdict) {
    const o = fw.otherFamily;
    const by = o.verdict !== 'accept' && o.decidedBy ? ` by ${o.decidedBy.table}/${o.decidedBy.chain} ${o.decidedBy.position !== undefined ? `rule ${o.decidedBy.position}` : 'policy'}` : '';
    w.push({ code: 'ipv6-differs', message: `Over ${o.flow.family === 'ipv6' ? 'IPv6' : 'IPv4'} (${o.flow.dst}) the same flow is ${pastTense(o.verdict)}${by}, while over ${o.flow.family === 'ipv6' ? 'IPv4' : 'IPv6'} it is ${pastTense(fw.forward.verdict)}.` });
  }
  if (from.kind === 'address') {
    w.push({ code: 'vantage-not-client', message: `${from.address ?? 'The given address'} is not an inventory host: the rules were simulated for it, but the live test ran from the worker, whose address and path may differ.` });
  }
  return w;
}

function serviceHint(id: string, title: string, host: string, commands: string[], effect: string): FixOption {
  return { id, title, host, commands, rulesetAfter: '', effect, blastRadius: [], kind: 'service-hint' };
}

/** Evidence in, report out. Pure: the clock and fix synthesis are parameters. */
export function assembleReport(
  request: TriageRequestInput, evidence: EvidenceItem[], failures: ProbeFailureInput[], options: AssembleOptions,
): TriageReport {
  const o = observe(evidence, failures.map((f) => f.probe));
  const from = vantageOf(request, o);
  const decision = decideCause(o, from.kind === 'address');
  const fw = o.firewall;
  const vantage = from.kind === 'worker' ? 'the worker' : from.name ?? from.address ?? 'the vantage';
  const failureEvidence: EvidenceItem[] = failures
    .filter((f) => !evidence.some((e) => e.probe === f.probe))
    .map((f) => ({ probe: f.probe, ok: false, summary: `could not run: ${f.message}`, raw: [], durationMs: 0, error: { code: 'probe-failed', message: f.message } }));
  const allEvidence = [...evidence, ...failureEvidence];

  const predicted = decision.cause === 'ssh-unreachable' ? undefined : predictOutcome(fw?.forward, fw?.reply, o.listener);
  const observed = o.connect?.outcome;
  const report: TriageReport = {
    target: { host: request.host, address: fw?.forwardFlow?.dst ?? o.connect?.target ?? o.listener?.targetAddress ?? request.host },
    port: request.port,
    protocol: 'tcp',
    from,
    cause: decision.cause,
    summary: '',
    evidence: allEvidence,
    warnings: warningsFor(o, from),
    fixes: [],
    durationMs: 0,
    startedAt: '',
  };
  if (decision.decidedBy) report.decidedBy = decision.decidedBy;
  if (predicted !== undefined) report.predictedSymptom = fw?.forward?.symptom && fw.forward.verdict !== 'accept' ? fw.forward.symptom : outcomeText(predicted);
  if (observed !== undefined) report.observedSymptom = outcomeText(observed);
  if (predicted !== undefined && observed !== undefined) {
    report.symptomAgrees = predicted === observed;
    if (!report.symptomAgrees) {
      decision.disagreements.push(`the rules predict ${outcomeText(predicted)}, the client observed ${outcomeText(observed)}`);
    }
  }
  if (fw?.rulesetHash) report.rulesetHash = fw.rulesetHash;
  report.summary = writeSummary(o, decision, vantage);
  report.fixes = fixesFor(request, o, decision.cause, decision.decidedBy, decision.decidedFlow, options.synthesizeFixes, report);

  const longest = Math.max(0, ...allEvidence.map((e) => e.durationMs));
  const startedAtMs = options.startedAtMs ?? options.nowMs - longest;
  report.durationMs = Math.max(0, options.nowMs - startedAtMs);
  report.startedAt = new Date(startedAtMs).toISOString();
  return report;
}

function fixesFor(
  request: TriageRequestInput, o: Observations, cause: TriageReport['cause'], decidedBy: RuleRef | undefined,
  flow: 'forward' | 'reply' | undefined, synthesize: SynthesizeFixes | undefined, report: TriageReport,
): FixOption[] {
  const host = request.host;
  const port = request.port;
  switch (cause) {
    case 'not-listening':
      return [serviceHint('start-service', `Start the service for TCP port ${port} on ${host}`, host,
        [`ss -ltnp 'sport = :${port}'`, 'systemctl list-units --type=service,socket --state=failed', 'systemctl status <the service>'],
        `Once something listens on port ${port}, the kernel stops answering with RST.`)];
    case 'bound-elsewhere': {
      const proc = o.listener?.processes[0];
      const where = o.listener?.sockets.map((s) => s.local).join(', ') ?? '';
      return [serviceHint('listen-on-address', `Make ${proc ? proc.name : 'the service'} listen on ${o.listener?.targetAddress ?? 'the public address'} (now: ${where})`, host,
        [`ss -ltnp 'sport = :${port}'`, `# change the service's bind/listen address from ${where} to 0.0.0.0 (or ${o.listener?.targetAddress ?? 'the address'}), then restart it`],
        'Remote clients reach the socket instead of getting a RST.')];
    }
    case 'tcp-wrappers': {
      const w = o.wrappers;
      return [serviceHint('allow-in-hosts-allow', `Allow ${w?.client ?? 'the client'} for ${w?.daemon ?? 'the daemon'} in /etc/hosts.allow`, host,
        [`# add to /etc/hosts.allow: ${w?.daemon ?? 'DAEMON'}: ${w?.client ?? 'CLIENT'}`, ...(w?.decidedBy ? [`# or narrow ${w.decidedBy.file} line ${w.decidedBy.line}: ${w.decidedBy.text}`] : [])],
        'hosts.allow is read first; a matching line there grants access before hosts.deny is consulted.')];
    }
    case 'firewall-shadowed-accept': case 'firewall-reject': case 'firewall-drop': case 'firewall-policy-drop': case 'reply-blocked': {
      const spec = o.firewall?.forwardFlow;
      if (!synthesize || !decidedBy || !spec || !o.firewall) return [];
      try {
        return synthesize({
          dumps: o.firewall.dumps, flow: spec, host: { localAddresses: o.firewall.localAddresses, interfaces: o.firewall.interfaces }, decidedBy, targetHost: host,
          ...(o.firewall.backend ? { backend: o.firewall.backend } : {}),
          ...(flow === 'reply' ? { blocked: 'reply' as const } : {}),
        });
      } catch (err) {
        report.summary += ` No fix could be computed: ${err instanceof Error ? err.message : String(err)}.`;
        return [];
      }
    }
    default:
      return [];
  }
}
