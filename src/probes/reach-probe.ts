import type { RemoteCommand } from '../remote/remote-command.ts';
import type { EvidenceItem } from '../triage/report-types.ts';
import type { ReachData } from '../triage/evidence-types.ts';
import { type CommandOutput, describeFailure, failedEvidence, lines } from './command-output.ts';
import { familyOf, requireInt, requireIp } from './probe-args.ts';

export interface ReachOptions {
  address: string;
  /** @defaultValue 3 */
  count?: number;
  /** Per-reply wait, whole seconds (ping -W). @defaultValue 1 */
  waitS?: number;
}

const intervalS = 0.2;

/** `ping -n -c N -W S -i 0.2 ADDRESS` from the vantage; never needs root. */
export function buildReachCommand(options: ReachOptions): RemoteCommand {
  const address = requireIp(options.address, 'target address');
  const count = requireInt(options.count ?? 3, 1, 10, 'ping count');
  const waitS = requireInt(options.waitS ?? 1, 1, 10, 'ping wait');
  return {
    argv: ['ping', familyOf(address) === 'ipv6' ? '-6' : '-4', '-n', '-c', String(count), '-W', String(waitS), '-i', String(intervalS), address],
    timeoutMs: Math.ceil(count * intervalS * 1000 + waitS * 1000 + 1000),
    maxOutputBytes: 64 * 1024,
  };
}

const statsRe = /(\d+) packets transmitted, (\d+) (?:packets )?received.*?([\d.]+)% packet loss/;
const rttRe = /(?:rtt|round-trip) min\/avg\/max(?:\/(?:mdev|stddev))? = ([\d.]+)\/([\d.]+)\/([\d.]+)/;
const icmpErrorRe = /^From \S+ icmp_seq=\d+ (.+)$/;

export function parseReachOutput(out: CommandOutput, target: string): EvidenceItem {
  const all = [...lines(out.stdout), ...lines(out.stderr)];
  const stats = all.map((l) => statsRe.exec(l)).find((m) => m !== null);
  if (!stats) {
    const failure = describeFailure('ping', out);
    const said = lines(out.stderr)[0] ?? lines(out.stdout)[0];
    // "connect: Network is unreachable" is an answer about the path, not a broken probe.
    if (said && /unreachable|no route/i.test(said) && out.code !== 127) {
      const data: ReachData = { target, transmitted: 0, received: 0, lossPct: 100, icmpErrors: [said.replace(/^ping: /, '')] };
      return { probe: 'reach', ok: false, summary: `ping ${target}: ${said.replace(/^ping: (connect: )?/, '')} (no route from the vantage)`, raw: all.slice(0, 5), durationMs: out.durationMs ?? 0, data };
    }
    return failedEvidence('reach', `ping could not run: ${failure.text}`, out, failure.code);
  }
  const rtt = all.map((l) => rttRe.exec(l)).find((m) => m !== null);
  const icmpErrors = [...new Set(all.map((l) => icmpErrorRe.exec(l)?.[1]).filter((e): e is string => e !== undefined))];
  const data: ReachData = {
    target, transmitted: Number(stats[1]), received: Number(stats[2]), lossPct: Number(stats[3]), icmpErrors,
    ...(rtt ? { rttMinMs: Number(rtt[1]), rttAvgMs: Number(rtt[2]), rttMaxMs: Number(rtt[3]) } : {}),
  };
  const ok = data.received > 0;
  let summary = ok
    ? `ping ${target}: ${data.received}/${data.transmitted} replies, ${data.lossPct}% loss${data.rttAvgMs !== undefined ? `, rtt avg ${data.rttAvgMs} ms` : ''}`
    : `ping ${target}: no replies (${data.lossPct}% loss)`;
  if (icmpErrors.length > 0) summary += `; ICMP errors: ${icmpErrors.join(', ')}`;
  const raw = all.filter((l) => statsRe.test(l) || rttRe.test(l) || icmpErrorRe.test(l));
  return { probe: 'reach', ok, summary, raw, durationMs: out.durationMs ?? 0, data };
}
