import type { AddressFamily, IcmpSeen } from '../triage/evidence-types.ts';

/** One line of `tcpdump -n -l` output, with or without the `-i any` "iface In/Out" columns. */
export interface TcpdumpPacket {
  line: string;
  family: AddressFamily;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** tcpdump's flag string without brackets: "S", "S.", ".", "R.", "F.", "P." … */
  flags?: string;
  payloadLength?: number;
  icmp?: Omit<IcmpSeen, 'from'>;
}

// print-icmp.c unreach2str, most specific first.
const icmp4: [RegExp, number, string][] = [
  [/^ICMP host \S+ unreachable - admin prohibited filter/, 13, 'admin-prohibited'],
  [/^ICMP host \S+ unreachable - admin prohibited/, 10, 'host-prohibited'],
  [/^ICMP net \S+ unreachable - admin prohibited/, 9, 'net-prohibited'],
  [/^ICMP net \S+ unreachable - tos prohibited/, 11, 'net-tos-prohibited'],
  [/^ICMP host \S+ unreachable - tos prohibited/, 12, 'host-tos-prohibited'],
  [/^ICMP host \S+ unreachable - host precedence violation/, 14, 'precedence-violation'],
  [/^ICMP host \S+ unreachable - precedence cutoff/, 15, 'precedence-cutoff'],
  [/^ICMP net \S+ unreachable - unknown/, 6, 'net-unknown'],
  [/^ICMP host \S+ unreachable - unknown/, 7, 'host-unknown'],
  [/^ICMP \S+ unreachable - need to frag/, 4, 'frag-needed'],
  [/^ICMP \S+ unreachable - source route failed/, 5, 'source-route-failed'],
  [/^ICMP \S+ unreachable - source host isolated/, 8, 'host-isolated'],
  [/^ICMP \S+ \S+ port \S+ unreachable/, 3, 'port-unreachable'],
  [/^ICMP \S+ protocol \d+ unreachable/, 2, 'proto-unreachable'],
  [/^ICMP host \S+ unreachable/, 1, 'host-unreachable'],
  [/^ICMP net \S+ unreachable/, 0, 'net-unreachable'],
];

// print-icmp6.c icmp6_dst_unreach_code_values (note tcpdump's double space before "unreachable").
const icmp6: [RegExp, number, string][] = [
  [/destination unreachable,\s+unreachable route/, 0, 'no-route'],
  [/destination unreachable,\s+unreachable prohibited/, 1, 'adm-prohibited'],
  [/destination unreachable,\s+beyond scope/, 2, 'beyond-scope'],
  [/destination unreachable,\s+unreachable address/, 3, 'addr-unreachable'],
  [/destination unreachable,\s+unreachable port/, 4, 'port-unreachable'],
  [/destination unreachable,\s+source address failed ingress\/egress policy/, 5, 'policy-fail'],
  [/destination unreachable,\s+reject route/, 6, 'reject-route'],
];

function splitEndpoint(text: string): { addr: string; port?: number } {
  const m = /^(.*)\.(\d+)$/.exec(text);
  // An IPv4 address alone also ends in ".digits"; it has exactly three dots.
  if (m && !(text.split('.').length === 4 && !text.includes(':'))) return { addr: m[1]!, port: Number(m[2]) };
  return { addr: text };
}

export function parseTcpdumpLine(line: string): TcpdumpPacket | undefined {
  const m = / (IP6?) (\S+) > (\S+?): (.*)$/.exec(line);
  if (!m) return undefined;
  const family: AddressFamily = m[1] === 'IP6' ? 'ipv6' : 'ipv4';
  const src = splitEndpoint(m[2]!);
  const dst = splitEndpoint(m[3]!);
  const rest = m[4]!;
  const pkt: TcpdumpPacket = { line, family, src: src.addr, dst: dst.addr };
  if (src.port !== undefined) pkt.sport = src.port;
  if (dst.port !== undefined) pkt.dport = dst.port;
  const flags = /^Flags \[([^\]]*)\]/.exec(rest);
  if (flags) {
    pkt.flags = flags[1]!;
    const len = /length (\d+)/.exec(rest);
    if (len) pkt.payloadLength = Number(len[1]);
    return pkt;
  }
  const table = family === 'ipv4' ? icmp4 : icmp6;
  if ((family === 'ipv4' && rest.startsWith('ICMP ')) || (family === 'ipv6' && rest.startsWith('ICMP6'))) {
    const hit = table.find(([re]) => re.test(rest));
    if (hit) pkt.icmp = { family, type: family === 'ipv4' ? 3 : 1, code: hit[1], name: hit[2] };
  }
  return pkt;
}
