import type { ObservedReply } from './start-reply-capture.ts';

const ICMP_UNREACH_CODES: Record<number, string> = {
  0: 'icmp-net-unreachable', 1: 'icmp-host-unreachable', 2: 'icmp-proto-unreachable', 3: 'icmp-port-unreachable',
  9: 'icmp-net-prohibited', 10: 'icmp-host-prohibited', 13: 'icmp-admin-prohibited',
};

/** The iptables --reject-with name that produces this reply on the wire. */
export function rejectTypeOf(reply: ObservedReply): string | undefined {
  if (reply.proto === 6 && reply.tcpFlags?.includes('RST') === true) return 'tcp-reset';
  if (reply.proto === 1 && reply.icmpType === 3 && reply.icmpCode !== undefined) return ICMP_UNREACH_CODES[reply.icmpCode] ?? `icmp-unreachable-code-${reply.icmpCode}`;
  return undefined;
}
