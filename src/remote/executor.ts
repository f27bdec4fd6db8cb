import type { Logger } from '../log/create-logger.ts';
import type { RemoteCommand } from './remote-command.ts';

/** What running one command produced; identical for SSH and local execution. */
export interface ExecResult {
  /** Exit status, or null when the command died by a signal or was cut off. */
  code: number | null;
  /** e.g. 'SIGTERM' when the command died by a signal. */
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Output went past maxOutputBytes: the command was stopped and the output cut there. */
  truncated: boolean;
  /** The command ran out of time (remote `timeout` fired, or the local timer closed it). */
  timedOut: boolean;
}

export interface ExecOptions {
  /** Abort the command: it is stopped and the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Per-call logger (e.g. with a job id); defaults to the executor's own. */
  log?: Logger;
  /** Take the next free channel before ordinary commands (something time-critical waits on it). */
  urgent?: boolean;
}

/** Runs commands on one fixed place (a host over SSH, or this machine), so probes need not care which. */
export interface Executor {
  readonly kind: 'ssh' | 'local';
  /** Inventory host name, or 'local'. */
  readonly target: string;
  exec(cmd: RemoteCommand, options?: ExecOptions): Promise<ExecResult>;
}
