import { isIP } from 'node:net';
import type { RemoteCommand } from '../remote/remote-command.ts';
import type { EvidenceItem } from '../triage/report-types.ts';
import type { ListenerData, ListenProcess, ListenScope, ListenSocket } from '../triage/evidence-types.ts';
import { type CommandOutput, describeFailure, failedEvidence, lines } from './command-output.ts';

/** `ss -Hltnp` (process names need root for other users' sockets), `ss -Hltn` without sudo. */
export function buildListenerCommand(options: { withProcesses: boolean }): RemoteCommand {
  return options.withProcesses
    ? { argv: ['ss', '-Hltnp'], sudo: true, timeoutMs: 3000, maxOutputBytes: 1024 * 1024 }
    : { argv: ['ss', '-Hltn'], timeoutMs: 3000, maxOutputBytes: 1024 * 1024 };
}

export interface SsAddress { address: string; port: number; iface?: string; family: 'ipv4' | 'ipv6' | 'dual' }

/**
 * One "Local Address:Port" column in every form ss prints: `0.0.0.0:22`, `*:22`, `[::]:22`,
 * `127.0.0.53%lo:53`, `[fe80::1]%eth0:22`, `[::ffff:127.0.0.1]:8080`, and old ss's `:::22`.
 */
export function parseSsAddress(text: string): SsAddress | undefined {
  const m = /^(.*):(\d+|\*)$/.exec(text);
  if (!m || m[2] === '*') return undefined;
  const port = Number(m[2]);
  let host = m[1]!;
  let iface: string | undefined;
  const pct = /^(.*)%([^%\]]+)$/.exec(host);
  if (pct) { host = pct[1]!; iface = pct[2]!; }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '*') return { address: '*', port, family: 'dual', ...(iface ? { iface } : {}) };
  const v = isIP(host);
  if (v === 0) return undefined;
  return { address: host, port, family: v === 6 ? 'ipv6' : 'ipv4', ...(iface ? { iface } : {}) };
}

function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

function scopeOf(address: string): ListenScope {
  const a = unmapped(address);
  if (a === '*' || a === '0.0.0.0' || a === '::') return 'all';
  if (a.startsWith('127.') || a === '::1') return 'loopback';
  return 'specific';
}

function parseProcesses(text: string): ListenProcess[] {
  const out: ListenProcess[] = [];
  for (const m of text.matchAll(/\("((?:[^"\\]|\\.)*)",pid=(\d+)(?:,fd=(\d+))?\)/g)) {
    out.push({ name: m[1]!, pid: Number(m[2]), ...(m[3] ? { fd: Number(m[3]) } : {}) });
  }
  return out;
}

/** Does a socket bound to `s` take a connection to `target`? (ss's `*` is a dual-stack or v4 wildcard.) */
export function socketAccepts(s: Pick<ListenSocket, 'address' | 'family'>, target: string): boolean {
  const t = unmapped(target);
  const tv = isIP(t);
  const a = unmapped(s.address);
  if (a === '*') return true;
  if (a === '0.0.0.0') return tv === 4;
  if (a === '::') return tv === 6;
  return a.toLowerCase() === t.toLowerCase();
}

export interface ListenerContext { port: number; targetAddress?: string; withProcesses: boolean }

export function parseListenerOutput(out: CommandOutput, ctx: ListenerContext): EvidenceItem {
  if (out.code !== 0) {
    const failure = describeFailure('ss', out);
    return failedEvidence('listener', `could not list listening sockets: ${failure.text}`, out, failure.code);
  }
  const sockets: ListenSocket[] = [];
  const raw: string[] = [];
  for (const line of lines(out.stdout)) {
    const cols = line.trim().split(/\s+/);
    // With -H: State Recv-Q Send-Q Local Peer [Process]; old ss without a State column starts at Recv-Q.
    const offset = /^\d+$/.test(cols[0]!) ? 0 : 1;
    const local = cols[2 + offset];
    if (local === undefined) continue;
    const addr = parseSsAddress(local);
    if (!addr || addr.port !== ctx.port) continue;
    sockets.push({ local, ...addr, scope: scopeOf(addr.address), processes: parseProcesses(cols.slice(4 + offset).join(' ')) });
    raw.push(line.trimEnd());
  }
  const processes = sockets.flatMap((s) => s.processes)
    .filter((p, i, all) => all.findIndex((q) => q.pid === p.pid) === i);
  const status: ListenerData['status'] = sockets.length === 0 ? 'none'
    : sockets.some((s) => s.scope === 'all') ? 'all'
      : sockets.every((s) => s.scope === 'loopback') ? 'loopback-only' : 'specific';
  const data: ListenerData = {
    port: ctx.port, sockets, status, processes, processInfo: ctx.withProcesses,
    ...(ctx.targetAddress !== undefined ? {
      targetAddress: ctx.targetAddress,
      // A socket bound to lo (SO_BINDTODEVICE) never sees traffic arriving from the network.
      acceptsTarget: sockets.some((s) => s.iface !== 'lo' && socketAccepts(s, ctx.targetAddress!)),
    } : {}),
  };
  const who = processes.length > 0 ? ` (${processes.map((p) => `${p.name}[${p.pid}]`).join(', ')})` : '';
  let summary: string;
  if (status === 'none') summary = `nothing listens on TCP port ${ctx.port}`;
  else {
    summary = `TCP port ${ctx.port} is open on ${sockets.map((s) => s.local).join(', ')}${who}`;
    if (status === 'loopback-only') summary += ': loopback only, remote clients get a RST';
    else if (data.acceptsTarget === false) summary += `: not on ${ctx.targetAddress}, so connections to it get a RST`;
  }
  return { probe: 'listener', ok: data.acceptsTarget ?? status !== 'none', summary, raw, durationMs: out.durationMs ?? 0, data };
}
