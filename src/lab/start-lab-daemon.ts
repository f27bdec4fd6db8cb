import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { ErrorCode, WhyBlockedError } from '../errors.ts';

export interface DaemonOptions {
  ip: string;
  ns: string;
  argv: string[];
  /** stdout and stderr go here; its tail is quoted when the daemon dies early. */
  logFile: string;
  /** The daemon is ready once this file exists (sshd writes its PidFile after binding). */
  readyFile: string;
  readyTimeoutMs: number;
  signal?: AbortSignal;
  onPid(pid: number): void;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Starts a long-lived process inside a namespace, detached so that the lab outlives `lab up`, and
 * polls for its ready file instead of sleeping.
 */
export async function startLabDaemon(o: DaemonOptions): Promise<number> {
  const fd = openSync(o.logFile, 'a', 0o600);
  let child;
  try {
    child = spawn(o.ip, ['netns', 'exec', o.ns, ...o.argv], { detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  let exited: string | undefined;
  let spawnError: Error | undefined;
  child.on('error', (e) => { spawnError = e; });
  child.on('exit', (code, sig) => { exited = `exited ${code ?? sig}`; });
  if (child.pid !== undefined) o.onPid(child.pid);
  const deadline = Date.now() + o.readyTimeoutMs;
  try {
    for (;;) {
      if (spawnError) throw spawnError;
      if (existsSync(o.readyFile)) return child.pid!;
      if (exited !== undefined) {
        throw new WhyBlockedError(ErrorCode.LabFailed, `${o.argv[0]} in ${o.ns} ${exited}: ${tail(o.logFile)}`);
      }
      if (o.signal?.aborted) throw new WhyBlockedError(ErrorCode.LabFailed, `interrupted while starting ${o.argv[0]} in ${o.ns}`);
      if (Date.now() > deadline) {
        throw new WhyBlockedError(ErrorCode.LabFailed, `${o.argv[0]} in ${o.ns} was not ready after ${o.readyTimeoutMs} ms: ${tail(o.logFile)}`);
      }
      await new Promise((r) => setTimeout(r, 15));
    }
  } finally {
    child.unref();
  }
}
