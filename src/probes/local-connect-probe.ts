import type { RemoteCommand } from '../remote/remote-command.ts';
import type { EvidenceItem } from '../triage/report-types.ts';
import type { ConnectData, LocalConnectData } from '../triage/evidence-types.ts';
import { describeOutcome } from './classify-connect-error.ts';
import type { CommandOutput } from './command-output.ts';
import { buildConnectCommand, parseConnectOutput } from './connect-probe.ts';
import { familyOf, requireIp, requirePort } from './probe-args.ts';

export interface LocalConnectCommands { viaAddress: RemoteCommand; viaLoopback: RemoteCommand; loopback: string }

/** On the target: connect to its own address:port and to the loopback address of the same family. */
export function buildLocalConnectCommands(options: { address: string; port: number; connectTimeoutMs?: number }): LocalConnectCommands {
  const address = requireIp(options.address, 'target address');
  const port = requirePort(options.port);
  const loopback = familyOf(address) === 'ipv6' ? '::1' : '127.0.0.1';
  const common = { port, connectTimeoutMs: options.connectTimeoutMs ?? 2000, holdMs: 300 };
  return { viaAddress: buildConnectCommand({ address, ...common }), viaLoopback: buildConnectCommand({ address: loopback, ...common }), loopback };
}

export function parseLocalConnectOutputs(
  outputs: { viaAddress?: CommandOutput; viaLoopback?: CommandOutput },
  ctx: { address: string; port: number; host?: string },
): EvidenceItem {
  const vantage = { kind: 'inventory-host' as const, ...(ctx.host ? { name: ctx.host } : {}) };
  const loopback = familyOf(ctx.address) === 'ipv6' ? '::1' : '127.0.0.1';
  const one = (out: CommandOutput | undefined, target: string): { ev?: EvidenceItem; data?: ConnectData } => {
    if (!out) return {};
    const ev = parseConnectOutput(out, { target, port: ctx.port, vantage });
    return { ev, ...(ev.data ? { data: ev.data as ConnectData } : {}) };
  };
  const a = one(outputs.viaAddress, ctx.address);
  const l = one(outputs.viaLoopback, loopback);
  const data: LocalConnectData = { ...(a.data ? { viaAddress: a.data } : {}), ...(l.data ? { viaLoopback: l.data } : {}) };
  const say = (d: ConnectData | undefined, ev: EvidenceItem | undefined): string =>
    d ? describeOutcome(d.outcome, d.errno) : ev ? `not tested (${ev.summary})` : 'not tested';
  const summary = `on the target itself: ${ctx.address}:${ctx.port} → ${say(a.data, a.ev)}; ${loopback}:${ctx.port} → ${say(l.data, l.ev)}`;
  const ok = a.data?.outcome === 'connected' || l.data?.outcome === 'connected';
  const raw = [...(a.ev?.raw ?? []).map((r) => `[${ctx.address}] ${r}`), ...(l.ev?.raw ?? []).map((r) => `[${loopback}] ${r}`)];
  const bothFailed = !a.data && !l.data;
  return {
    probe: 'local-connect', ok, summary, raw,
    durationMs: Math.max(outputs.viaAddress?.durationMs ?? 0, outputs.viaLoopback?.durationMs ?? 0), data,
    ...(bothFailed ? { error: { code: a.ev?.error?.code ?? 'failed', message: a.ev?.summary ?? 'local connect probe did not run' } } : {}),
  };
}
