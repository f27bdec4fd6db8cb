import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { RemoteCommand } from '../remote/remote-command.ts';
import type { EvidenceItem } from '../triage/report-types.ts';
import type { CaptureClass, CaptureData, ConnectData, ConnectOutcome, CounterHit, IcmpSeen } from '../triage/evidence-types.ts';
import { type CommandOutput, describeFailure, lines } from './command-output.ts';
import { diffCounters } from './iptables-counters.ts';
import { requireIfaceName, requireInt, requireIp, requirePort } from './probe-args.ts';
import { type TcpdumpPacket, parseTcpdumpLine } from './tcpdump-lines.ts';

export interface CaptureOptions {
  /** Source addresses the test traffic may carry (the vantage's, and a --from IP). */
  clientAddresses: string[];
  port: number;
  /** @defaultValue 'any' */
  iface?: string;
  /** @defaultValue 40 */
  packetCount?: number;
  /** Hard limit on the capture's life. @defaultValue 10000 */
  timeLimitMs?: number;
}

/** tcpdump prints this on stderr once the filter is installed: only then may the test connect start. */
export const tcpdumpReadyPattern = /^listening on /m;

/** Bounded capture on the target: packet count, time limit, filter on the client(s) and the port. */
export function buildCaptureCommand(options: CaptureOptions): RemoteCommand {
  if (!Array.isArray(options.clientAddresses) || options.clientAddresses.length === 0 || options.clientAddresses.length > 4) {
    throw new WhyBlockedError(ErrorCode.UnsafeArgument, 'A capture needs 1 to 4 client addresses to filter on.');
  }
  const clients = options.clientAddresses.map((a) => requireIp(a, 'client address'));
  const port = requirePort(options.port);
  const iface = options.iface === undefined ? 'any' : requireIfaceName(options.iface);
  const count = requireInt(options.packetCount ?? 40, 1, 1000, 'packet count');
  const timeLimitMs = requireInt(options.timeLimitMs ?? 10_000, 500, 120_000, 'capture time limit (ms)');
  const hosts = clients.map((c) => `host ${c}`).join(' or ');
  const filter = `(tcp port ${port} and (${hosts})) or ((icmp or icmp6) and (${hosts}))`;
  return {
    argv: ['tcpdump', '-n', '-l', '--immediate-mode', '-i', iface, '-c', String(count), filter],
    sudo: true, timeoutMs: timeLimitMs, maxOutputBytes: 1024 * 1024,
  };
}

/** `iptables-save -c` for the tools present: a counter snapshot before and after the test. */
export function buildCounterCommands(family: 'ipv4' | 'ipv6'): { source: string; cmd: RemoteCommand }[] {
  const tools = family === 'ipv6' ? ['ip6tables-legacy-save', 'ip6tables-nft-save'] : ['iptables-legacy-save', 'iptables-nft-save'];
  return tools.map((tool) => ({
    source: tool.replace(/-save$/, '').replace(/^ip6?tables/, family === 'ipv6' ? 'ip6tables' : 'iptables'),
    cmd: { argv: [tool, '-c'], sudo: true, timeoutMs: 5000, maxOutputBytes: 8 * 1024 * 1024 },
  }));
}

/**
 * For hosts with iptables < 1.8 (RHEL 7, older Fedora): only the unsuffixed tool exists, and it
 * is the legacy backend, so its counters belong to the `…-legacy` dump the firewall probe made.
 */
export function buildUnsuffixedCounterCommand(family: 'ipv4' | 'ipv6'): { source: string; cmd: RemoteCommand } {
  const tool = family === 'ipv6' ? 'ip6tables' : 'iptables';
  return { source: `${tool}-legacy`, cmd: { argv: [`${tool}-save`, '-c'], sudo: true, timeoutMs: 5000, maxOutputBytes: 8 * 1024 * 1024 } };
}

/** The tool is not on the host: `timeout` says 127, sudo says "command not found". */
export function toolMissing(out: { code: number | null; stderr: string }): boolean {
  return out.code === 127 || (out.code !== 0 && /command not found|No such file or directory/.test(out.stderr));
}

export interface CaptureContext { clientAddresses: string[]; port: number }

export interface CaptureClassification {
  classification: CaptureClass;
  synCount: number;
  icmp?: IcmpSeen;
  serverClosedAfterHandshake?: boolean;
  supporting: string[];
}

function flagsHave(p: TcpdumpPacket, f: string): boolean {
  return p.flags !== undefined && p.flags.includes(f);
}

/** What the server saw and sent, from its own tcpdump. */
export function classifyCapture(stdoutLines: string[], ctx: CaptureContext): CaptureClassification {
  const clients = new Set(ctx.clientAddresses.map((a) => a.toLowerCase()));
  const packets = stdoutLines.map(parseTcpdumpLine).filter((p): p is TcpdumpPacket => p !== undefined);
  const fromClient = (p: TcpdumpPacket): boolean => clients.has(p.src.toLowerCase()) && p.dport === ctx.port;
  const toClient = (p: TcpdumpPacket): boolean => clients.has(p.dst.toLowerCase()) && p.sport === ctx.port;
  const syns = packets.filter((p) => fromClient(p) && p.flags === 'S');
  const synAcks = packets.filter((p) => toClient(p) && flagsHave(p, 'S') && flagsHave(p, '.'));
  const rsts = packets.filter((p) => toClient(p) && flagsHave(p, 'R'));
  const icmps = packets.filter((p) => p.icmp !== undefined && clients.has(p.dst.toLowerCase()));
  const supporting = (list: TcpdumpPacket[]): string[] => list.slice(0, 6).map((p) => p.line);
  if (synAcks.length > 0) {
    const firstSynAck = packets.indexOf(synAcks[0]!);
    const after = packets.slice(firstSynAck + 1);
    const acked = after.some((p) => fromClient(p) && p.flags === '.');
    // The wrappers signature: the server's FIN/RST comes before any payload either way and before the client's FIN.
    const firstClose = after.find((p) => (fromClient(p) || toClient(p)) && (flagsHave(p, 'F') || flagsHave(p, 'R')));
    const dataBefore = firstClose ? after.slice(0, after.indexOf(firstClose)).some((p) => (p.payloadLength ?? 0) > 0) : true;
    const serverClosed = firstClose !== undefined && toClient(firstClose) && !dataBefore;
    const list = [...syns.slice(0, 1), synAcks[0]!, ...after.filter((p) => fromClient(p) || toClient(p)).slice(0, 3)];
    return { classification: acked ? 'syn-ack-completed' : 'syn-ack-incomplete', synCount: syns.length, serverClosedAfterHandshake: serverClosed, supporting: supporting(list) };
  }
  if (icmps.length > 0) {
    const p = icmps[0]!;
    return {
      classification: 'icmp-unreachable', synCount: syns.length,
      icmp: { ...p.icmp!, from: p.src }, supporting: supporting([...syns.slice(0, 1), p]),
    };
  }
  if (rsts.length > 0) return { classification: 'rst', synCount: syns.length, supporting: supporting([...syns.slice(0, 1), rsts[0]!]) };
  if (syns.length > 0) return { classification: 'syn-unanswered', synCount: syns.length, supporting: supporting(syns) };
  return { classification: 'no-syn', synCount: 0, supporting: [] };
}

/** True once the capture holds the answer to the SYN (or the client's final ACK): no need to wait longer. */
export function captureSettled(stdoutLines: string[], ctx: CaptureContext): boolean {
  const c = classifyCapture(stdoutLines, ctx);
  return c.classification === 'icmp-unreachable' || c.classification === 'rst' || c.classification === 'syn-ack-completed';
}

const classText: Record<CaptureClass, string> = {
  'no-syn': 'no SYN from the client reached the target',
  'icmp-unreachable': 'the SYN arrived and the target answered with ICMP unreachable',
  rst: 'the SYN arrived and the target answered with a RST',
  'syn-ack-completed': 'the SYN arrived, the target answered SYN-ACK and the client completed the handshake',
  'syn-ack-incomplete': 'the SYN arrived and the target answered SYN-ACK, but the client never completed the handshake',
  'syn-unanswered': 'the SYN arrived but the target sent nothing back',
};

export interface CaptureEvidenceInput {
  tcpdump: CommandOutput;
  ctx: CaptureContext;
  connect?: EvidenceItem;
  counters?: { source: string; before: CommandOutput; after: CommandOutput }[];
}

export function captureEvidence(input: CaptureEvidenceInput): EvidenceItem {
  const { tcpdump, ctx } = input;
  const outLines = lines(tcpdump.stdout);
  const durationMs = tcpdump.durationMs ?? 0;
  if (!tcpdumpReadyPattern.test(tcpdump.stderr)) {
    const failure = describeFailure('tcpdump', tcpdump);
    return {
      probe: 'capture', ok: false, summary: `capture did not start: ${failure.text}`,
      raw: lines(tcpdump.stderr).slice(0, 5), durationMs, error: { code: failure.code, message: failure.text },
    };
  }
  const c = classifyCapture(outLines, ctx);
  const hits: CounterHit[] = [];
  let rulesChanged = false;
  for (const counter of input.counters ?? []) {
    if (counter.before.code !== 0 || counter.after.code !== 0) continue;
    const diff = diffCounters(counter.before.stdout, counter.after.stdout, counter.source);
    hits.push(...diff.hits);
    rulesChanged ||= diff.rulesChanged;
  }
  const connect = input.connect?.data as ConnectData | undefined;
  const data: CaptureData = {
    classification: c.classification, synCount: c.synCount, counterHits: hits, rulesChanged, clientAddresses: ctx.clientAddresses,
    ...(c.icmp ? { icmp: c.icmp } : {}),
    ...(c.serverClosedAfterHandshake !== undefined ? { serverClosedAfterHandshake: c.serverClosedAfterHandshake } : {}),
    ...(connect ? { connect } : {}),
  };
  let summary = classText[c.classification];
  if (c.icmp) summary += ` (${c.icmp.name}, type ${c.icmp.type} code ${c.icmp.code})`;
  if (c.serverClosedAfterHandshake) summary += ', then the server closed at once';
  const terminal = hits.filter((h) => /-j (REJECT|DROP)\b/.test(h.rule) || (h.policy && /DROP/.test(h.rule)));
  if (terminal.length > 0) summary += `; counters rose on ${terminal.map((h) => `${h.table}/${h.chain} ${h.position !== undefined ? `rule ${h.position}` : 'policy'}`).join(', ')}`;
  if (rulesChanged) summary += '; the rules changed while the test ran';
  const raw = [...c.supporting, ...hits.map((h) => `[+${h.packets}] ${h.source} ${h.table}: ${h.rule}`)];
  const ok = c.classification === 'syn-ack-completed' && !c.serverClosedAfterHandshake;
  return { probe: 'capture', ok, summary, raw, durationMs, data };
}

const icmpOutcome: Record<string, ConnectOutcome> = {
  'host-prohibited': 'host-unreachable', 'admin-prohibited': 'host-unreachable', 'host-unreachable': 'host-unreachable',
  'net-prohibited': 'net-unreachable', 'net-unreachable': 'net-unreachable', 'port-unreachable': 'refused',
  'proto-unreachable': 'protocol-unavailable', 'adm-prohibited': 'permission-denied', 'policy-fail': 'permission-denied',
  'reject-route': 'permission-denied', 'no-route': 'net-unreachable', 'addr-unreachable': 'host-unreachable',
};
const outcomeErrno: Partial<Record<ConnectOutcome, string>> = {
  'host-unreachable': 'EHOSTUNREACH', 'net-unreachable': 'ENETUNREACH', refused: 'ECONNREFUSED',
  'protocol-unavailable': 'ENOPROTOOPT', 'permission-denied': 'EACCES',
};

/** A connect stopped early: its outcome is what the ICMP the target sent makes the kernel report. */
export function inferConnectFromCapture(connect: EvidenceItem, c: CaptureClassification): EvidenceItem {
  const data = connect.data as ConnectData | undefined;
  const outcome = c.icmp ? icmpOutcome[c.icmp.name] : undefined;
  if (!data || !outcome) return connect;
  const errno = outcomeErrno[outcome];
  const inferred: ConnectData = {
    target: data.target, port: data.port, vantage: data.vantage, outcome, ...(errno ? { errno } : {}),
    message: `inferred from the ICMP ${c.icmp!.name} the target sent; the connect was stopped before the kernel reported it`,
  };
  return {
    ...connect, ok: false, data: inferred,
    summary: `TCP connect to ${data.target}:${data.port}: ${errno ?? outcome} (inferred from the ICMP ${c.icmp!.name} seen in the capture; connect stopped early)`,
  };
}
