import type { RemoteCommand } from '../remote/remote-command.ts';
import type { EvidenceItem } from '../triage/report-types.ts';
import type { ConnectData, VantageInfo } from '../triage/evidence-types.ts';
import { classifyErrorText, describeOutcome } from './classify-connect-error.ts';
import { type CommandOutput, describeFailure, failedEvidence, lines } from './command-output.ts';
import { requireInt, requireIp, requirePort, wholeSeconds } from './probe-args.ts';

export interface ConnectOptions {
  address: string;
  port: number;
  /** How long to wait for the handshake's outcome. @defaultValue 3000 */
  connectTimeoutMs?: number;
  /** After connecting, how long to wait to see whether the server closes at once. @defaultValue 500 */
  holdMs?: number;
}

/**
 * bash's /dev/tcp: present on every Fedora/Debian host, prints strerror for the connect errno, and
 * lets one fixed script time the connect and then watch whether the server closes first.
 * Arguments arrive as $1..$4, never inside the script text.
 */
// One line: the remote command validator refuses newlines in any argument.
export const bashConnectScript = [
  's=$(date +%s%N)',
  'if exec 3<>"/dev/tcp/$1/$2"; then echo "connected $(( ($(date +%s%N)-s)/1000000 ))"',
  's=$(date +%s%N); IFS= read -r -n 1 -t "$3" -u 3 c; r=$?',
  'echo "after-connect $r $(( ($(date +%s%N)-s)/1000000 ))"',
  'else echo "connect-failed $(( ($(date +%s%N)-s)/1000000 ))"',
  'fi',
].join('; ');

/**
 * A blocking connect (bash) that gets an ICMP error is told only when the kernel retransmits the
 * SYN (~1 s on current kernels); netcat connects non-blocking and polls, so it reports at once.
 * So netcat-openbsd or nmap-ncat when present (told apart by their `-h` banner, since their flags
 * differ), bash otherwise. nc's stdout and stderr share one stream here: its own lines ("nc: …",
 * "Ncat: …") are copied to stderr, and anything else after the connect is the server's data.
 */
export const connectScript = [
  't=; f=',
  'for b in nc ncat; do if command -v "$b" >/dev/null 2>&1; then case $("$b" -h 2>&1 | head -n 1) in *OpenBSD*) t=$b; f=-d; break;; Ncat*) t=$b; f=--recv-only; break;; esac; fi; done',
  'if [ -z "$t" ]; then ' + bashConnectScript + '; exit 0; fi',
  'echo "tool $t"',
  's=$(date +%s%N); ok=0',
  'exec 3< <(exec "$t" -v "$f" -w "$4" "$1" "$2" 2>&1 </dev/null); p=$!',
  'while IFS= read -r -t "$(( $4 + 1 ))" -u 3 l; do case $l in "Connection to "*" succeeded!"|"Ncat: Connected to "*) ok=1; echo "connected $(( ($(date +%s%N)-s)/1000000 ))"; break;; *) printf \'%s\\n\' "$l" >&2;; esac; done',
  'if [ $ok = 1 ]; then s=$(date +%s%N); r=; while [ -z "$r" ]; do IFS= read -r -t "$3" -u 3 l; x=$?; case $x:$l in "0:nc: "*|"0:Ncat: "*) printf \'%s\\n\' "$l" >&2;; 0:*) r=0;; *) if [ -n "$l" ] && [ "${l#nc: }" = "$l" ] && [ "${l#Ncat: }" = "$l" ]; then r=0; else [ -n "$l" ] && printf \'%s\\n\' "$l" >&2; r=$x; fi;; esac; done; echo "after-connect $r $(( ($(date +%s%N)-s)/1000000 ))"',
  'else echo "connect-failed $(( ($(date +%s%N)-s)/1000000 ))"; fi',
  'kill "$p" 2>/dev/null; exit 0',
].join('; ');

export function buildConnectCommand(options: ConnectOptions): RemoteCommand {
  const address = requireIp(options.address, 'target address');
  const port = requirePort(options.port);
  const connectTimeoutMs = requireInt(options.connectTimeoutMs ?? 3000, 100, 300_000, 'connect timeout (ms)');
  const holdMs = requireInt(options.holdMs ?? 500, 0, 10_000, 'hold time (ms)');
  return {
    argv: ['bash', '-c', connectScript, 'why-blocked-connect', address, String(port), (holdMs / 1000).toFixed(3), String(wholeSeconds(connectTimeoutMs))],
    timeoutMs: connectTimeoutMs + holdMs,
    maxOutputBytes: 16 * 1024,
  };
}

export interface ConnectContext { target: string; port: number; vantage: VantageInfo; connectTimeoutMs?: number }

function evidenceOf(data: ConnectData, raw: string[], durationMs: number): EvidenceItem {
  const who = data.vantage.kind === 'worker' ? 'from the worker' : data.vantage.name ? `from ${data.vantage.name}` : 'from the vantage';
  let summary = `TCP connect to ${data.target}:${data.port} ${who}: ${describeOutcome(data.outcome, data.errno)}`;
  if (data.timeToOutcomeMs !== undefined) summary += ` after ${data.timeToOutcomeMs} ms`;
  if (data.serverClosedAtOnce) summary += '; the server then closed the connection at once without sending anything';
  else if (data.afterConnect === 'server-reset') summary += '; the server then reset the connection';
  return { probe: 'connect', ok: data.outcome === 'connected', summary, raw, durationMs, data };
}

/** The strerror part of what bash, netcat-openbsd or ncat printed. */
function errorMessageOf(line: string): string {
  return line
    .replace(/^nc: connect to \S+ port \d+ \(tcp\) (?:failed|timed out): /, '')
    .replace(/^Ncat: /, '')
    .replace(/^[\w.-]+: (line \d+: )?(connect: )?(\/dev\/tcp\/\S+: )?/, '')
    .replace(/\.$/, '');
}

/** Parses the output of buildConnectCommand's script (either branch: netcat or bash). */
export function parseConnectOutput(out: CommandOutput, ctx: ConnectContext): EvidenceItem {
  const all = [...lines(out.stdout), ...lines(out.stderr)];
  const base = { target: ctx.target, port: ctx.port, vantage: ctx.vantage };
  const durationMs = out.durationMs ?? 0;
  const connected = /^connected (\d+)$/m.exec(out.stdout);
  const failed = /^connect-failed (\d+)$/m.exec(out.stdout);
  const after = /^after-connect (\d+) (\d+)$/m.exec(out.stdout);
  if (connected) {
    const data: ConnectData = { ...base, outcome: 'connected', timeToOutcomeMs: Number(connected[1]) };
    if (after) {
      const status = Number(after[1]);
      // read -t: 0 = a byte arrived, >128 = still open when the wait ended, 1 = EOF or an error.
      if (status === 0) data.afterConnect = 'sent-data';
      else if (status > 128) data.afterConnect = 'stayed-open';
      else if (/reset/i.test(out.stderr)) data.afterConnect = 'server-reset';
      else data.afterConnect = 'server-closed';
      data.serverClosedAtOnce = data.afterConnect === 'server-closed' || data.afterConnect === 'server-reset';
    }
    return evidenceOf(data, all, durationMs);
  }
  if (failed) {
    const classified = all.map(classifyErrorText).find((c) => c !== undefined) ?? { outcome: 'error' as const };
    const message = lines(out.stderr).filter((l) => !/^Ncat: Version /.test(l)).map(errorMessageOf).find((l) => l !== '');
    const data: ConnectData = { ...base, ...classified, timeToOutcomeMs: Number(failed[1]), ...(message ? { message } : {}) };
    return evidenceOf(data, all, durationMs);
  }
  if (out.timedOut || out.code === 124) {
    const data: ConnectData = { ...base, outcome: 'timeout', errno: 'ETIMEDOUT', message: 'no answer before the probe timeout', ...(ctx.connectTimeoutMs !== undefined ? { timeToOutcomeMs: ctx.connectTimeoutMs } : {}) };
    return evidenceOf(data, all, durationMs);
  }
  const failure = describeFailure('bash', out);
  return failedEvidence('connect', `TCP connect probe could not run: ${failure.text}`, out, failure.code);
}

const ncFailRe = /^nc: connect to (\S+) port (\d+) \(tcp\) (?:failed|timed out): (.+)$/;
const ncOkRe = /^Connection to (\S+) (\d+) port \[[^\]]*\] succeeded!$/;

/** netcat-openbsd `nc -z -v -w N` output, for hosts where an operator already ran it. */
export function parseNcOutput(out: CommandOutput, ctx: ConnectContext): EvidenceItem {
  const all = [...lines(out.stdout), ...lines(out.stderr)];
  const base = { target: ctx.target, port: ctx.port, vantage: ctx.vantage };
  if (all.some((l) => ncOkRe.test(l))) return evidenceOf({ ...base, outcome: 'connected' }, all, out.durationMs ?? 0);
  const fail = all.map((l) => ncFailRe.exec(l)).find((m) => m !== null);
  if (fail) {
    const classified = /timed out/.test(fail[0]) ? { outcome: 'timeout' as const, errno: 'ETIMEDOUT' } : classifyErrorText(fail[3]!) ?? { outcome: 'error' as const };
    return evidenceOf({ ...base, ...classified, message: fail[3]! }, all, out.durationMs ?? 0);
  }
  const failure = describeFailure('nc', out);
  return failedEvidence('connect', `nc could not run: ${failure.text}`, out, failure.code);
}
