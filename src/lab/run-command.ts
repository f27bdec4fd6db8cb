import { spawn } from 'node:child_process';
import { ErrorCode, WhyBlockedError } from '../errors.ts';

export interface RunOptions {
  /** Written to stdin, then stdin is closed. */
  input?: string;
  /** Killed with SIGKILL after this long. @defaultValue 15000 */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Output beyond this many bytes per stream is dropped. @defaultValue 4 MiB */
  maxOutputBytes?: number;
}

export interface RunResult {
  argv: string[];
  /** null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs argv (never through a shell) and collects its output; a non-zero exit is a result, not an error. */
export function runCommand(argv: string[], options: RunOptions = {}): Promise<RunResult> {
  const { input, timeoutMs = 15_000, signal, maxOutputBytes = 4 * 1024 * 1024 } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new WhyBlockedError(ErrorCode.LabFailed, `interrupted before running ${argv[0]}`));
      return;
    }
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    child.stdout!.on('data', (d: Buffer) => { if (outBytes < maxOutputBytes) out.push(d); outBytes += d.length; });
    child.stderr!.on('data', (d: Buffer) => { if (errBytes < maxOutputBytes) err.push(d); errBytes += d.length; });
    const kill = (): void => { child.kill('SIGKILL'); };
    const timer = setTimeout(() => { timedOut = true; kill(); }, timeoutMs);
    signal?.addEventListener('abort', kill, { once: true });
    child.on('error', (e) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', kill);
      reject(new WhyBlockedError(ErrorCode.LabFailed, `could not run ${argv[0]}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', kill);
      resolve({ argv, code, signal: sig, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
    if (input !== undefined && child.stdin) {
      child.stdin.on('error', () => { /* the command may exit before reading everything; its exit code tells */ });
      child.stdin.end(input);
    }
  });
}

/** Like runCommand, but a failure to exit 0 throws a LabFailed error quoting stderr. */
export async function runChecked(argv: string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await runCommand(argv, options);
  if (result.code !== 0) {
    const why = result.timedOut ? 'timed out' : `exited ${result.code ?? result.signal}`;
    throw new WhyBlockedError(ErrorCode.LabFailed,
      `\`${argv.join(' ')}\` ${why}: ${result.stderr.trim() || result.stdout.trim() || '(no output)'}`,
      { details: { argv, code: result.code } });
  }
  return result;
}
