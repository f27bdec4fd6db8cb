import type { ConnectOutcome, FlowVerdict, ListenerData } from './evidence-types.ts';

/** Connect outcomes are the common language of prediction (simulation) and observation (live). */
const rejectOutcome: Record<string, ConnectOutcome> = {
  'tcp-reset': 'refused', 'icmp-port-unreachable': 'refused', 'icmp6-port-unreachable': 'refused',
  'icmp-host-prohibited': 'host-unreachable', 'icmp-admin-prohibited': 'host-unreachable', 'icmp-host-unreachable': 'host-unreachable',
  'icmp6-addr-unreachable': 'host-unreachable',
  'icmp-net-prohibited': 'net-unreachable', 'icmp-net-unreachable': 'net-unreachable', 'icmp6-no-route': 'net-unreachable',
  'icmp6-adm-prohibited': 'permission-denied', 'icmp6-policy-fail': 'permission-denied', 'icmp6-reject-route': 'permission-denied',
  'icmp-proto-unreachable': 'protocol-unavailable',
};

export function predictOutcome(forward: FlowVerdict | undefined, reply: FlowVerdict | undefined, listener: ListenerData | undefined): ConnectOutcome | undefined {
  if (!forward || forward.verdict === 'unknown') return undefined;
  if (forward.verdict === 'reject') return rejectOutcome[forward.rejectWith ?? 'icmp-port-unreachable'] ?? 'refused';
  if (forward.verdict === 'drop') return 'timeout';
  if (reply && (reply.verdict === 'drop' || reply.verdict === 'reject')) return 'timeout';
  if (listener) {
    if (listener.status === 'none' || listener.acceptsTarget === false) return 'refused';
    return 'connected';
  }
  return 'connected';
}

export function outcomeText(o: ConnectOutcome): string {
  switch (o) {
    case 'connected': return 'the connection succeeds';
    case 'refused': return 'ECONNREFUSED (Connection refused)';
    case 'host-unreachable': return 'EHOSTUNREACH (No route to host)';
    case 'net-unreachable': return 'ENETUNREACH (Network is unreachable)';
    case 'timeout': return 'ETIMEDOUT (the SYN goes unanswered)';
    case 'permission-denied': return 'EACCES (Permission denied)';
    case 'not-permitted': return 'EPERM (blocked on the client itself)';
    case 'protocol-unavailable': return 'ENOPROTOOPT (Protocol not available)';
    case 'reset': return 'ECONNRESET (Connection reset)';
    case 'error': return 'an error';
  }
}
