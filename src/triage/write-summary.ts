import type { CauseDecision } from './decide-cause.ts';
import type { ConnectData } from './evidence-types.ts';
import type { Cause, RuleRef } from './report-types.ts';
import { outcomeText } from './symptom-class.ts';
import type { Observations } from './triage-observations.ts';

function rule(r: RuleRef | undefined): string {
  if (!r) return 'a rule';
  const where = r.position === undefined ? `the ${r.table}/${r.chain} policy (${r.policy ?? 'DROP'})` : `${r.table}/${r.chain} rule ${r.position}`;
  return `${where}${r.rule ? ` (\`${r.rule}\`)` : ''} [${r.source}]`;
}

function checked(o: Observations, vantage: string): string {
  const parts: string[] = [];
  if (o.reach) parts.push('ping');
  if (o.connect) parts.push(`a TCP connect from ${vantage}`);
  if (o.listener) parts.push('the listening sockets');
  if (o.local) parts.push('a local connect on the target');
  if (o.wrappers) parts.push('hosts.allow/deny');
  if (o.firewall) parts.push(`the firewall rules (${o.firewall.dumps.map((d) => d.source).join(', ') || 'none readable'})`);
  if (o.capture) parts.push('a live capture on the target');
  if (o.persistence) parts.push('the saved rules');
  return parts.length > 0 ? `Checked ${parts.join(', ')}.` : 'No probe produced evidence.';
}

function connectSeen(c: ConnectData | undefined): string {
  if (!c) return '';
  if (c.outcome === 'connected') {
    const after = c.serverClosedAtOnce ? ', and the server closes the connection at once without a byte'
      : c.afterConnect === 'stayed-open' ? ', and the server stays silent for the short hold that followed' : '';
    return `The client connects${after}.`;
  }
  return `The client gets ${outcomeText(c.outcome)}${c.timeToOutcomeMs !== undefined ? ` after ${c.timeToOutcomeMs} ms` : ''}.`;
}

function captureSeen(o: Observations): string {
  const cap = o.capture;
  if (!cap) return '';
  switch (cap.classification) {
    case 'no-syn': return 'No SYN from the client reaches the target.';
    case 'icmp-unreachable': return `The SYN reaches the target, which answers with ICMP ${cap.icmp?.name ?? 'unreachable'} (type ${cap.icmp?.type ?? '?'} code ${cap.icmp?.code ?? '?'}).`;
    case 'rst': return 'The SYN reaches the target, which answers with a RST.';
    case 'syn-ack-completed': return 'The target answers SYN-ACK and the client completes the handshake.';
    case 'syn-ack-incomplete': return 'The target answers SYN-ACK, but the client never completes the handshake.';
    case 'syn-unanswered': return `The SYN reaches the target (${cap.synCount}×, retransmitted) and nothing goes back.`;
  }
}

function meaning(cause: Cause, o: Observations, d: CauseDecision): string {
  const fw = o.firewall?.forward;
  const port = o.listener?.port ?? o.connect?.port;
  const confirmed = (r: RuleRef | undefined): string => {
    const hit = r && o.capture?.counterHits.find((h) => h.table === r.table && h.chain === r.chain && h.position === r.position);
    return hit ? ` Its counter rose by ${hit.packets} during the test, which confirms it live.` : '';
  };
  switch (cause) {
    case 'firewall-shadowed-accept': {
      const acc = fw?.shadowedAccepts[0];
      return `${rule(d.decidedBy)} ${fw?.verdict === 'drop' ? 'drops' : 'rejects'} it before the ACCEPT for this flow at ${acc ? `${acc.table}/${acc.chain} rule ${acc.position ?? '?'}` : 'a later rule'} is ever reached: rules are evaluated top-down and the first match wins.${confirmed(d.decidedBy)} Move the ACCEPT above it (or the blocking rule below it).`;
    }
    case 'firewall-reject': return d.decidedBy
      ? `${rule(d.decidedBy)} rejects it${fw?.rejectWith ? ` with ${fw.rejectWith}` : ''}; no ACCEPT for this flow exists.${confirmed(d.decidedBy)} Add an ACCEPT for it above that rule.`
      : 'A REJECT on the target answers the SYN, but the dumped rules do not show which one.';
    case 'firewall-drop': return d.decidedBy
      ? `${rule(d.decidedBy)} drops it silently, so the client waits until it times out.${confirmed(d.decidedBy)} Add an ACCEPT for it above that rule.`
      : 'Something on the target drops the SYN silently, and the dumped rules do not show which rule.';
    case 'firewall-policy-drop': return `No rule accepts it, so ${rule(d.decidedBy)} drops it.${confirmed(d.decidedBy)} Add an ACCEPT for this flow.`;
    case 'reply-blocked': return `The request is accepted, but ${rule(d.decidedBy)} blocks the target's answer on the way out.`;
    case 'not-listening': return `Nothing listens on TCP port ${port ?? '?'}, so the kernel answers the SYN with a RST. The firewall is not the problem: start the service (or fix its port).`;
    case 'bound-elsewhere': {
      const where = o.listener?.sockets.map((s) => s.local).join(', ') ?? '?';
      return `The service listens only on ${where}, not on ${o.listener?.targetAddress ?? 'the address clients use'}, so remote SYNs get a RST. Make it listen on that address (or on all addresses) and restart it.`;
    }
    case 'tcp-wrappers': {
      const w = o.wrappers;
      return `${w?.decidedBy ? `${w.decidedBy.file} line ${w.decidedBy.line} (\`${w.decidedBy.text}\`)` : 'TCP wrappers'} ${w?.decidedBy ? 'denies' : 'deny'} ${w?.client ?? 'the client'} for ${w?.daemon ?? 'the daemon'}, which honours it (${w?.honouredReason ?? 'libwrap'}). Allow the client in /etc/hosts.allow.`;
    }
    case 'blocked-upstream': return `The block is between the client and the target (a router, a cloud security group, or the client's own egress rules), not on the target.${o.capture ? ` (The capture looked for ${o.capture.clientAddresses.join(', ')}; if NAT rewrites the client's address on the way, that address never appears on the target.)` : ''}`;
    case 'no-return-path': return 'The target answers, but the answer never reaches the client: check the return route and any stateful device on the way back (asymmetric routing).';
    case 'ssh-unreachable': return 'The target could not be inspected (SSH failed), so only the vantage\'s view is available.';
    case 'reachable': return 'From this vantage the port is reachable; if users still fail, test from their network (--from).';
    case 'unknown': return 'The evidence does not point to one cause.';
  }
}

export function writeSummary(o: Observations, d: CauseDecision, vantage: string): string {
  const seen = [connectSeen(o.connect), captureSeen(o)].filter((s) => s !== '');
  if (o.reach && o.reach.received > 0 && d.cause !== 'reachable') seen.push('ping gets replies, so the path itself works.');
  if (o.local?.viaAddress?.outcome === 'connected' || o.local?.viaLoopback?.outcome === 'connected') {
    if (d.cause.startsWith('firewall') || d.cause === 'blocked-upstream') seen.push('The service answers locally on the target.');
  }
  const parts = [checked(o, vantage), ...seen, meaning(d.cause, o, d)];
  if (d.alsoNoted.length > 0) parts.push(`Also: ${d.alsoNoted.join('; ')}.`);
  if (d.disagreements.length > 0) parts.push(`Live evidence and the simulation disagree: ${d.disagreements.join('; ')}.`);
  if (o.failed.length > 0) parts.push(`Not available: ${o.failed.join(', ')}.`);
  return parts.join(' ');
}
