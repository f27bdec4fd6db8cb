import type { RemoteCommand } from '../remote/remote-command.ts';
import type { EvidenceItem } from '../triage/report-types.ts';
import type { TcpWrappersData } from '../triage/evidence-types.ts';
import { type CommandOutput, describeFailure, failedEvidence, lines } from './command-output.ts';
import { evaluateHostsAccess } from './hosts-access.ts';
import { requireAbsolutePath, requirePid } from './probe-args.ts';

// /etc/services too: inetd.conf names services, and the host's own table says which name is the port.
export const wrappersFiles = ['/etc/hosts.allow', '/etc/hosts.deny', '/etc/inetd.conf', '/etc/xinetd.conf', '/etc/xinetd.d', '/etc/services'] as const;

/** `grep -rsH ''` prints every line prefixed by its file, and a missing file is just absent (= empty to libwrap). */
export function buildWrappersFilesCommand(): RemoteCommand {
  return { argv: ['grep', '-rsH', '', ...wrappersFiles], timeoutMs: 3000, maxOutputBytes: 512 * 1024 };
}

/** Service names (and aliases) /etc/services gives PORT/tcp. */
export function parseServicesOutput(stdout: string, port: number): string[] {
  const names: string[] = [];
  for (const line of stdout.split('\n')) {
    const fields = line.replace(/#.*$/, '').trim().split(/\s+/);
    if (fields.length < 2 || fields[1] !== `${port}/tcp`) continue;
    names.push(fields[0]!, ...fields.slice(2));
  }
  return [...new Set(names)];
}

/** OpenSSH >= 9.8 (Debian) runs the libwrap check in sshd-session, not in the listening sshd. */
export const sshdSessionPaths = ['/usr/lib/openssh/sshd-session', '/usr/libexec/openssh/sshd-session'] as const;

/**
 * The listening process's executable. Only this needs root (other users' /proc/PID/exe), so it is
 * one fixed command the sudoers file allows with a numeric-PID pattern, not a script.
 */
export function buildExeCommand(options: { pid: number }): RemoteCommand {
  const pid = requirePid(options.pid);
  return { argv: ['readlink', '-f', `/proc/${pid}/exe`], sudo: true, timeoutMs: 3000, maxOutputBytes: 4096 };
}

/**
 * The path `readlink -f` printed, if it is one the scan may be given: a replaced binary reads
 * "/usr/sbin/sshd (deleted)", and odd characters are not worth quoting to a host.
 */
export function parseExeOutput(out: CommandOutput): string | undefined {
  if (out.code !== 0 || out.timedOut) return undefined;
  const exe = out.stdout.split('\n')[0]!;
  try {
    return requireAbsolutePath(exe);
  } catch {
    return undefined;
  }
}

/**
 * Whether each binary names libwrap.so among its libraries, without sudo and without `ldd` (which
 * runs the binary's own loader). A dynamically linked user of libwrap carries the soname in its
 * .dynstr; `-m1` stops at the first hit. Binaries are world-readable on the distributions we
 * know; an unreadable one leaves the answer unknown rather than guessed.
 */
export function buildLibwrapScanCommand(options: { exe: string }): RemoteCommand {
  const exe = requireAbsolutePath(options.exe);
  const files = exe.slice(exe.lastIndexOf('/') + 1) === 'sshd' ? [exe, ...sshdSessionPaths] : [exe];
  return { argv: ['grep', '-sHcF', '-m1', 'libwrap.so', '--', ...files], timeoutMs: 5000, maxOutputBytes: 64 * 1024 };
}

/** `FILE:COUNT` per readable file (a missing sshd-session prints nothing). */
export function parseLibwrapScan(stdout: string): LibwrapInfo['linked'] {
  const linked: LibwrapInfo['linked'] = [];
  for (const line of stdout.split('\n')) {
    const at = line.lastIndexOf(':');
    if (at <= 0 || !line.startsWith('/') || !/^\d+$/.test(line.slice(at + 1))) continue;
    linked.push({ file: line.slice(0, at), libwrap: Number(line.slice(at + 1)) > 0 });
  }
  return linked;
}

export interface WrappersFiles { allow: string; deny: string; inetd: string; services: string; xinetd: { path: string; text: string }[] }

export function parseWrappersFiles(stdout: string): WrappersFiles {
  const byFile = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const at = line.indexOf(':');
    if (at <= 0 || !line.startsWith('/etc/')) continue;
    const file = line.slice(0, at);
    byFile.set(file, [...(byFile.get(file) ?? []), line.slice(at + 1)]);
  }
  const text = (f: string): string => (byFile.get(f) ?? []).join('\n');
  return {
    allow: text('/etc/hosts.allow'), deny: text('/etc/hosts.deny'), inetd: text('/etc/inetd.conf'), services: text('/etc/services'),
    xinetd: [...byFile.keys()].filter((f) => f.startsWith('/etc/xinetd')).map((path) => ({ path, text: text(path) })),
  };
}

export interface LibwrapInfo { exe?: string; linked: { file: string; libwrap: boolean }[] }

/** The executable and its scan; undefined when the executable could not be read (no sudo, no process). */
export function parseLibwrapOutputs(outputs: { exe?: CommandOutput; scan?: CommandOutput }): LibwrapInfo | undefined {
  const exe = outputs.exe ? parseExeOutput(outputs.exe) : undefined;
  if (exe === undefined) return undefined;
  // grep exits 1 when nothing matched and 2 when a file is missing; only its output counts.
  const scan = outputs.scan && !outputs.scan.timedOut && outputs.scan.code !== 127 ? parseLibwrapScan(outputs.scan.stdout) : [];
  return { exe, linked: scan };
}

/** inetd.conf and xinetd name services, not ports; the few that still run under tcpd. */
const serviceNames: Record<number, string[]> = {
  21: ['ftp'], 23: ['telnet'], 25: ['smtp'], 79: ['finger'], 110: ['pop3', 'pop-3'], 113: ['auth', 'ident'],
  143: ['imap', 'imap2'], 512: ['exec'], 513: ['login'], 514: ['shell', 'cmd'], 69: ['tftp'], 37: ['time'], 7: ['echo'],
};

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

export interface DaemonWrapping { daemon?: string; honoured: TcpWrappersData['honoured']; reason: string }

/** Which name libwrap would check, and whether anything checks at all. */
export function detectLibwrap(input: { processName?: string; port: number; files: WrappersFiles; libwrap?: LibwrapInfo; services?: string[] }): DaemonWrapping {
  const proc = input.processName ?? (input.libwrap?.exe ? basename(input.libwrap.exe) : undefined);
  const names = [...new Set([...(input.services ?? []), ...(serviceNames[input.port] ?? []), String(input.port)])];
  const superLinked = input.libwrap?.linked.some((l) => l.libwrap) ?? false;
  if (proc !== undefined && /inetd$/.test(proc) && !/xinetd/.test(proc)) {
    const line = input.files.inetd.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.split(/\s+/)).find((f) => names.includes(f[0]!.replace(/^.*:/, '')) && f[2]?.startsWith('tcp'));
    if (!line) return { honoured: 'unknown', reason: `${proc} listens, but no inetd.conf line for port ${input.port} was found` };
    const server = line[5] ?? '';
    const argv0 = line[6] ?? server;
    if (basename(server) === 'tcpd') return { daemon: basename(argv0), honoured: 'yes', reason: `inetd.conf service ${line[0]!} runs ${argv0} through tcpd, which checks the name "${basename(argv0)}"` };
    if (superLinked) return { daemon: basename(argv0), honoured: 'yes', reason: `${proc} itself links libwrap` };
    return { daemon: basename(argv0), honoured: 'no', reason: `inetd.conf runs ${server} directly, without tcpd` };
  }
  if (proc === 'xinetd') {
    for (const f of input.files.xinetd) {
      const blocks = f.text.split(/\n\s*}\s*/);
      const block = blocks.find((b) => new RegExp(`^\\s*service\\s+(${names.join('|')})\\b`, 'm').test(b) || new RegExp(`^\\s*port\\s*=\\s*${input.port}\\b`, 'm').test(b));
      if (!block) continue;
      const server = /^\s*server\s*=\s*(\S+)/m.exec(block)?.[1];
      const override = /^\s*libwrap\s*=\s*(\S+)/m.exec(block)?.[1];
      const daemon = override ?? (server ? basename(server) : undefined);
      if (!superLinked) return { ...(daemon ? { daemon } : {}), honoured: input.libwrap ? 'no' : 'unknown', reason: input.libwrap ? 'xinetd is not linked with libwrap' : 'could not check whether xinetd links libwrap' };
      return { ...(daemon ? { daemon } : {}), honoured: 'yes', reason: `xinetd links libwrap and checks "${daemon ?? '?'}"` };
    }
    return { honoured: 'unknown', reason: `no xinetd service for port ${input.port} was found` };
  }
  if (!input.libwrap || input.libwrap.linked.length === 0) {
    const reason = input.libwrap?.exe ? `could not read ${input.libwrap.exe} to look for libwrap` : 'could not inspect the listening binary (needs sudo, or nothing listens)';
    return { ...(proc ? { daemon: proc } : {}), honoured: 'unknown', reason };
  }
  const wrapped = input.libwrap.linked.filter((l) => l.libwrap);
  if (wrapped.length === 0) {
    return { ...(proc ? { daemon: proc } : {}), honoured: 'no', reason: `${input.libwrap.linked.map((l) => basename(l.file)).join(', ')} not linked with libwrap` };
  }
  const daemon = proc ?? basename(wrapped[0]!.file);
  return { daemon, honoured: 'yes', reason: `${wrapped.map((l) => l.file).join(', ')} links libwrap` };
}

export interface TcpWrappersContext { port: number; client: string; clientHostname?: string; processName?: string }

/** `exe` is `readlink -f /proc/PID/exe` (sudo), `scan` the libwrap scan of what it printed. */
export function parseTcpWrappersOutputs(outputs: { files: CommandOutput; exe?: CommandOutput; scan?: CommandOutput }, ctx: TcpWrappersContext): EvidenceItem {
  // grep exits 2 when some of the files are missing; only a missing grep is a failed probe.
  if (outputs.files.code === 127 || outputs.files.timedOut) {
    const failure = describeFailure('grep', outputs.files);
    return failedEvidence('tcp-wrappers', `could not read hosts.allow/hosts.deny: ${failure.text}`, outputs.files, failure.code);
  }
  const files = parseWrappersFiles(outputs.files.stdout);
  const libwrap = parseLibwrapOutputs(outputs);
  const services = parseServicesOutput(files.services, ctx.port);
  const wrapping = detectLibwrap({
    port: ctx.port, files, services, ...(ctx.processName ? { processName: ctx.processName } : {}), ...(libwrap ? { libwrap } : {}),
  });
  const daemon = wrapping.daemon ?? ctx.processName;
  const result = daemon !== undefined
    ? evaluateHostsAccess({ allow: files.allow, deny: files.deny, daemon, client: { address: ctx.client, ...(ctx.clientHostname ? { hostname: ctx.clientHostname } : {}) } })
    : { decision: 'unknown' as const, flags: ['the daemon name is unknown (no listener, or ss ran without -p)'] };
  const data: TcpWrappersData = {
    ...(daemon ? { daemon } : {}), client: ctx.client, decision: result.decision,
    ...('decidedBy' in result && result.decidedBy ? { decidedBy: result.decidedBy } : {}),
    honoured: wrapping.honoured, honouredReason: wrapping.reason, flags: result.flags,
  };
  const where = data.decidedBy ? `${data.decidedBy.file} line ${data.decidedBy.line} \`${data.decidedBy.text}\`` : 'no hosts.allow/deny rule (default allow)';
  const forWhom = `${ctx.client} for ${daemon ?? 'the daemon'}`;
  let summary: string;
  if (data.decision === 'deny' && data.honoured === 'yes') summary = `${where} denies ${forWhom}, and the daemon honours it (${wrapping.reason})`;
  else if (data.decision === 'deny') summary = `${where} would deny ${forWhom}, but ${data.honoured === 'no' ? 'the daemon ignores TCP wrappers' : 'it is unclear whether the daemon consults them'} (${wrapping.reason})`;
  else if (data.decision === 'allow') summary = `TCP wrappers allow ${forWhom}: ${where}`;
  else summary = `TCP wrappers outcome for ${forWhom} is undecidable offline: ${where}${result.flags[0] ? ` (${result.flags[0]})` : ''}`;
  const raw = [
    ...(data.decidedBy ? [`${data.decidedBy.file}:${data.decidedBy.line}: ${data.decidedBy.text}`] : []),
    ...(libwrap?.exe ? [`exe ${libwrap.exe}`] : []),
    ...(libwrap?.linked ?? []).map((l) => `${l.file}: ${l.libwrap ? 'links libwrap' : 'no libwrap'}`),
    ...lines(outputs.files.stderr).slice(0, 3),
  ];
  const ok = !(data.decision === 'deny' && data.honoured === 'yes');
  return { probe: 'tcp-wrappers', ok, summary, raw, durationMs: Math.max(outputs.files.durationMs ?? 0, (outputs.exe?.durationMs ?? 0) + (outputs.scan?.durationMs ?? 0)), data };
}
