import type { FlowVerdict } from './evidence-types.ts';
import type { Cause, RuleRef } from './report-types.ts';
import type { Observations } from './triage-observations.ts';

export interface CauseDecision {
  cause: Cause;
  decidedBy?: RuleRef;
  /** Which flow the decider filtered: the request or the reply. */
  decidedFlow?: 'forward' | 'reply';
  /** Plain statements where live evidence and the simulation disagree. */
  disagreements: string[];
  /** Secondary findings worth a sentence (a second problem behind the first). */
  alsoNoted: string[];
}

const blocks = (v: FlowVerdict): boolean => v.verdict === 'drop' || v.verdict === 'reject';

function ruleName(r: RuleRef | undefined): string {
  if (!r) return 'an unknown rule';
  return r.position === undefined ? `the ${r.table}/${r.chain} policy` : `${r.table}/${r.chain} rule ${r.position}`;
}

function firewallCause(v: FlowVerdict): Cause {
  if (v.shadowedAccepts.length > 0) return 'firewall-shadowed-accept';
  if (v.verdict === 'reject') return 'firewall-reject';
  return v.decidedBy && v.decidedBy.position === undefined ? 'firewall-policy-drop' : 'firewall-drop';
}

/**
 * Live evidence first (what the client and the server's own capture saw), the simulation to name
 * the rule. When they disagree, the cause follows the live evidence and the disagreement is stated.
 */
export function decideCause(o: Observations, vantageNotClient: boolean): CauseDecision {
  const disagreements: string[] = [];
  const alsoNoted: string[] = [];
  const fw = o.firewall?.forward;
  const reply = o.firewall?.reply;
  const cap = o.capture?.classification;
  const c = o.connect;
  const result = (cause: Cause, extra: Partial<CauseDecision> = {}): CauseDecision => ({ cause, disagreements, alsoNoted, ...extra });
  const fromFirewall = (v: FlowVerdict, flow: 'forward' | 'reply'): CauseDecision =>
    result(flow === 'reply' ? 'reply-blocked' : firewallCause(v), { ...(v.decidedBy ? { decidedBy: v.decidedBy } : {}), decidedFlow: flow });

  if (!o.targetInspected) return result('ssh-unreachable');

  if (c?.outcome === 'connected') {
    const closedAtOnce = c.serverClosedAtOnce === true || o.capture?.serverClosedAfterHandshake === true;
    if (closedAtOnce && o.wrappers?.decision === 'deny' && o.wrappers.honoured !== 'no') return result('tcp-wrappers');
    // The static evaluation is conclusive on its own: tcpd may sleep before closing (Debian's
    // refuse delay), so "still open" after a short hold does not contradict a denial. Only a byte
    // from the service does: libwrap decides before the service runs.
    if (o.wrappers?.decision === 'deny' && o.wrappers.honoured === 'yes') {
      if (c.afterConnect !== 'sent-data') return result('tcp-wrappers');
      disagreements.push('hosts.allow/deny deny this client for a wrapped daemon, yet the service sent data: the daemon name checked may differ from the one evaluated');
    }
    if (closedAtOnce && o.wrappers?.decision === 'deny') {
      alsoNoted.push('the server closed the connection at once and hosts.deny matches, but the daemon does not use libwrap: look at the service\'s own access control');
    }
    if (fw && blocks(fw)) disagreements.push(`the simulation says ${ruleName(fw.decidedBy)} ${fw.verdict}s this flow, yet the live connection succeeded`);
    return result('reachable');
  }

  // EPERM on connect: the vantage's own OUTPUT rules refused the SYN before it left.
  if (c?.outcome === 'not-permitted') {
    alsoNoted.push('the vantage\'s own firewall refuses the outgoing SYN (EPERM), so nothing is sent at all');
    return result('blocked-upstream');
  }
  // A capture can miss the first SYN (a brand-new interface, a busy host) while the rule the
  // simulation names counted it: then the SYN did arrive, and the counter is the better witness.
  const terminalHits = o.capture?.counterHits.filter((h) => /-j (REJECT|DROP)\b/.test(h.rule) || (h.policy === true && /DROP/.test(h.rule))) ?? [];
  const decider = fw && blocks(fw) ? fw.decidedBy : undefined;
  const counterSawSyn = cap === 'no-syn' && decider !== undefined
    && terminalHits.some((h) => h.table === decider.table && h.chain === decider.chain && h.position === decider.position);
  if (counterSawSyn) {
    alsoNoted.push(`the capture saw no SYN, but the counter of ${ruleName(decider)} rose during the test: the SYN did reach the target and the capture missed it`);
  }
  // The SYN never showed up on the target: whatever the host's rules say, something earlier drops it.
  if (cap === 'no-syn' && !vantageNotClient && !counterSawSyn) {
    if (fw && blocks(fw)) alsoNoted.push(`once that is fixed, ${ruleName(fw.decidedBy)} on the target would ${fw.verdict} it too`);
    return result('blocked-upstream');
  }

  if (fw && blocks(fw)) {
    const d = fromFirewall(fw, 'forward');
    if (cap === 'syn-ack-completed' || cap === 'syn-ack-incomplete') {
      disagreements.push(`the simulation says ${ruleName(fw.decidedBy)} ${fw.verdict}s the SYN, but the capture shows the target answering SYN-ACK`);
    } else if (cap === 'rst' && fw.verdict === 'drop') {
      disagreements.push('the simulation predicts a silent drop, but the capture shows the target answering with a RST');
    } else if (cap === 'icmp-unreachable' && fw.verdict === 'drop') {
      disagreements.push('the simulation predicts a silent drop, but the capture shows an ICMP error coming back');
    } else if (cap === 'syn-unanswered' && fw.verdict === 'reject') {
      disagreements.push('the simulation predicts a REJECT, but the capture shows nothing sent back (ICMP rate limiting, or an OUTPUT rule dropping the error)');
    }
    const hits = terminalHits;
    const dec = fw.decidedBy;
    if (dec && hits.length > 0 && !hits.some((h) => h.table === dec.table && h.chain === dec.chain && h.position === dec.position)) {
      disagreements.push(`the counters that rose during the test belong to ${hits.map((h) => `${h.table}/${h.chain} ${h.position !== undefined ? `rule ${h.position}` : 'policy'}`).join(', ')}, not to ${ruleName(dec)}`);
    }
    if (o.listener?.status === 'none') alsoNoted.push(`nothing listens on port ${o.listener.port} either, so the service must be started as well`);
    return d;
  }

  if (fw?.verdict === 'accept' && reply && blocks(reply)) return fromFirewall(reply, 'reply');

  if (o.listener && o.listener.status === 'none') {
    if (cap === 'icmp-unreachable') disagreements.push('nothing listens, but the target answered with an ICMP error rather than the kernel\'s RST: a REJECT rule the simulation did not see');
    return result('not-listening');
  }
  if (o.listener && o.listener.acceptsTarget === false) return result('bound-elsewhere');

  if (cap === 'syn-ack-incomplete') return result('no-return-path');
  if (cap === 'syn-ack-completed') {
    disagreements.push('the target saw the handshake complete, yet the client reports a failure');
    return result('unknown');
  }
  if (cap === 'icmp-unreachable' || cap === 'rst') {
    if (fw?.verdict === 'accept') {
      disagreements.push(`the simulation of the dumped rules accepts this flow, but the target answered the SYN with ${cap === 'rst' ? 'a RST' : `ICMP ${o.capture?.icmp?.name ?? 'unreachable'}`}: rules outside the dumps (another backend, a changed ruleset) are rejecting it`);
    }
    return result('firewall-reject');
  }
  if (cap === 'syn-unanswered') {
    if (fw?.verdict === 'accept') {
      const rp = o.firewall?.rpFilter ?? {};
      const strict = Object.values(rp).some((v) => v === 1);
      disagreements.push(`the dumped rules accept the SYN and its reply, yet the target sent nothing back${strict ? ' (rp_filter is strict on this host: a reverse-path drop is likely)' : ''}`);
    }
    return result(fw?.verdict === 'accept' ? 'unknown' : 'firewall-drop');
  }
  if (cap === 'no-syn' && vantageNotClient) {
    alsoNoted.push('the capture filtered on the given client address, which is not where the test connection came from');
  }
  if (c && fw?.verdict === 'accept' && o.listener?.acceptsTarget === true && !o.capture) {
    disagreements.push('the rules accept this flow and the service listens, yet the connection fails: without a capture the failure cannot be placed');
  }
  return result('unknown');
}
