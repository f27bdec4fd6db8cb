import type { Family, RejectWith } from './model.ts';
import { protoName } from './protocols.ts';

/** What the client and a capture on the server show (netfilter.md §5). */
export interface Symptom {
  /** Client errno for connect()/recv(), or null when the connection proceeds. */
  errno: string | null;
  message: string;
  /** One sentence for the client side. */
  client: string;
  /** What `tcpdump -n` on the server shows. */
  tcpdump: string;
}

export interface SymptomInput {
  family: Family;
  proto: number;
  client: string;
  server: string;
  sport?: number;
  dport?: number;
  verdict: 'accept' | 'drop' | 'reject' | 'unknown';
  rejectWith?: RejectWith;
  replyVerdict?: 'accept' | 'drop' | 'reject' | 'unknown';
}

const icmpErr: Record<RejectWith, [string, string]> = {
  'icmp-net-unreachable': ['ENETUNREACH', 'Network is unreachable'],
  'icmp-host-unreachable': ['EHOSTUNREACH', 'No route to host'],
  'icmp-proto-unreachable': ['ENOPROTOOPT', 'Protocol not available'],
  'icmp-port-unreachable': ['ECONNREFUSED', 'Connection refused'],
  'icmp-net-prohibited': ['ENETUNREACH', 'Network is unreachable'],
  'icmp-host-prohibited': ['EHOSTUNREACH', 'No route to host'],
  'icmp-admin-prohibited': ['EHOSTUNREACH', 'No route to host'],
  'tcp-reset': ['ECONNREFUSED', 'Connection refused'],
  'icmp6-no-route': ['ENETUNREACH', 'Network is unreachable'],
  'icmp6-adm-prohibited': ['EACCES', 'Permission denied'],
  'icmp6-addr-unreachable': ['EHOSTUNREACH', 'No route to host'],
  'icmp6-port-unreachable': ['ECONNREFUSED', 'Connection refused'],
  'icmp6-policy-fail': ['EACCES', 'Permission denied'],
  'icmp6-reject-route': ['EACCES', 'Permission denied'],
};

function icmpLine(w: RejectWith, s: SymptomInput): string {
  const { server: S, client: C } = s;
  const p = protoName(s.proto);
  const v4 = (body: string): string => `IP ${S} > ${C}: ICMP ${body}, length 68`;
  const v6 = (body: string): string => `IP6 ${S} > ${C}: ICMP6, destination unreachable, ${body}`;
  switch (w) {
    case 'icmp-net-unreachable': return v4(`net ${S} unreachable`);
    case 'icmp-host-unreachable': return v4(`host ${S} unreachable`);
    case 'icmp-proto-unreachable': return v4(`${S} protocol ${s.proto} unreachable`);
    case 'icmp-port-unreachable': return v4(`${S} ${p} port ${s.dport ?? '?'} unreachable`);
    case 'icmp-net-prohibited': return v4(`net ${S} unreachable - admin prohibited`);
    case 'icmp-host-prohibited': return v4(`host ${S} unreachable - admin prohibited`);
    case 'icmp-admin-prohibited': return v4(`host ${S} unreachable - admin prohibited filter`);
    case 'icmp6-no-route': return v6(`unreachable route ${S}`);
    case 'icmp6-adm-prohibited': return v6(` unreachable prohibited ${S}`);
    case 'icmp6-addr-unreachable': return v6(`unreachable address ${S}`);
    case 'icmp6-port-unreachable': return v6(`unreachable port, ${S} ${p} port ${s.dport ?? '?'}`);
    case 'icmp6-policy-fail': return v6(`failed policy ${S}`);
    case 'icmp6-reject-route': return v6(`reject route ${S}`);
    case 'tcp-reset': return `IP ${S}.${s.dport ?? '?'} > ${C}.${s.sport ?? '?'}: Flags [R.], seq 0, ack <client ISN+1>, win 0, length 0`;
  }
}

export function describeSymptom(s: SymptomInput): Symptom {
  const tcp = s.proto === 6;
  const udp = s.proto === 17;
  const from = `${s.client}${s.sport !== undefined ? `.${s.sport}` : ''}`;
  const to = `${s.server}${s.dport !== undefined ? `.${s.dport}` : ''}`;
  const ip = s.family === 'ipv4' ? 'IP' : 'IP6';
  const incoming = tcp ? `${ip} ${from} > ${to}: Flags [S]` : `${ip} ${from} > ${to}: ${protoName(s.proto)}`;
  if (s.verdict === 'unknown') {
    return { errno: null, message: 'depends on a rule the analyzer cannot judge offline', client: 'Outcome depends on the rules listed under unknowns.',
      tcpdump: `${incoming} (what follows depends on the unknown rule)` };
  }
  if (s.verdict === 'drop' || (s.verdict === 'accept' && s.replyVerdict === 'drop')) {
    const replyNote = s.verdict === 'accept' ? ' The request passes but the server\'s reply is dropped on the way out.' : '';
    if (tcp) {
      return { errno: 'ETIMEDOUT', message: 'Connection timed out',
        client: `connect() hangs while the SYN is retransmitted (tcp_syn_retries=6), then fails after about 127 s.${replyNote}`,
        tcpdump: `${incoming} repeated (retransmits), no reply${s.verdict === 'accept' ? ' leaves the server' : ''}` };
    }
    return { errno: null, message: 'No answer', client: `Datagrams vanish silently; the client only sees its own timeout.${replyNote}`,
      tcpdump: `${incoming} with no reply` };
  }
  if (s.verdict === 'reject') {
    const w = s.rejectWith ?? (s.family === 'ipv4' ? 'icmp-port-unreachable' : 'icmp6-port-unreachable');
    const [errno, message] = icmpErr[w];
    let client: string;
    if (w === 'tcp-reset') client = tcp ? 'connect() fails at once; on the wire this is indistinguishable from "no listener".' : 'The RST is only sent for TCP; other protocols see no answer.';
    else if (tcp) client = `connect() fails at once with ${errno} "${message}".`;
    else if (udp) client = `A connected UDP socket gets ${errno} on its next send()/recv().`;
    else client = `The sender receives an ICMP error (${w}).`;
    return { errno: w === 'tcp-reset' && !tcp ? null : errno, message, client, tcpdump: `${incoming}\n${icmpLine(w, s)}` };
  }
  if (tcp) {
    return { errno: null, message: 'Firewall passes the connection',
      client: 'The SYN reaches the socket layer: a listener answers SYN-ACK; with no listener on that address the kernel sends RST (ECONNREFUSED).',
      tcpdump: `${incoming}\n${ip} ${to} > ${from}: Flags [S.] (or [R.] if nothing listens)` };
  }
  return { errno: null, message: 'Firewall passes the packet', client: 'The packet reaches the socket layer.', tcpdump: incoming };
}
