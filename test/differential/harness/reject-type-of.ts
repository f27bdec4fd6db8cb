import type { ObservedReply } from './start-reply-capture.ts';

const ICMP_UNREACH_CODES: Record<number, string> = {
  0: 'icmp-net-unreachable', 1: 'icmp-host-unreachable', 2: 'icmp-proto-unreachable', 3: 'icmp-port-unreachable',
  9: 'icmp-net-prohibited', 10: 'icmp-host-prohibited', 13: 'icmp-admin-prohibited',
};

const ICMP6_UNREACH_CODES: Record<number, string> = {
  0: 'icmp6-no-route', 1: 'icmp6-adm-prohibited', 3: 'icmp6-addr-unreachable', 4: 'icmp6-port-unreachable',
  5: 'icmp6-policy-fail', 6: 'icmp6-reject-route',
};

/** The iptables --reject-with name that produces this reply on the wire. */
export function rejectTypeOf(reply: ObservedReply): string | undefined {
  if (reply.proto === 6 && reply.tcpFlags?.includes('RST') === true) return 'tcp-reset';
  if (reply.proto === 1 && reply.icmpType === 3 && reply.icmpCode !== undefined) return ICMP_UNREACH_CODES[reply.icmpCode] ?? `icmp-unreachable-code-${reply.icmpCode}`;
  if (reply.proto === 58 && reply.icmpType === 1 && reply.icmpCode !== undefined) return ICMP6_UNREACH_CODES[reply.icmpCode] ?? `icmp6-unreachable-code-${reply.icmpCode}`;
  return undefined;
}
