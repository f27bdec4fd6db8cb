import { spawn } from 'node:child_process';
import { userInfo } from 'node:os';
import type { Logger } from '../log/create-logger.ts';
import { silentLogger } from '../log/create-logger.ts';
import type { ExecOptions, ExecResult, Executor } from './executor.ts';
import { OutputBuffer } from './output-buffer.ts';
import { defaultMaxOutputBytes, remoteKillAfterMs, validateRemoteCommand, type RemoteCommand } from './remote-command.ts';
import { validateArg } from './quote.ts';
import { abortError } from './semaphore.ts';
import { isSudoRefusal, sudoPasswordRequiredError } from './sudo-refusal.ts';

export interface LocalExecOptions extends ExecOptions {
  /** Prefix `sudo -n --` to commands marked `sudo`. @defaultValue true unless running as root */
  sudo?: boolean;
  /** How long after TERM the process group gets KILL. @defaultValue 2000 */
  killAfterMs?: number;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Runs a probe on this machine with an argv and no shell. The child gets its own process group
 * so a timeout also kills grandchildren, which would otherwise hold the pipes open.
 */
export function localExec(cmd: RemoteCommand, options: LocalExecOptions = {}): Promise<ExecResult> {
  try {
    validateRemoteCommand(cmd);
    cmd.argv.forEach(validateArg);
  } catch (err) {
    return Promise.reject(err);
  }
  const { signal } = options;
  const privileged = cmd.sudo === true && (options.sudo ?? !isRoot());
  const argv = privileged ? ['sudo', '-n', '--', ...cmd.argv] : cmd.argv;
  const maxBytes = cmd.maxOutputBytes ?? defaultMaxOutputBytes;
  const killAfterMs = options.killAfterMs ?? remoteKillAfterMs;
  const log = options.log;
  if (signal?.aborted) return Promise.reject(abortError(signal));

  return new Promise<ExecResult>((resolve, reject) => {
    const started = performance.now();
    const stdout = new OutputBuffer(maxBytes);
    const stderr = new OutputBuffer(maxBytes);
    let timedOut = false;
    let aborted = false;
    let spawnError: NodeJS.ErrnoException | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const child = spawn(argv[0]!, argv.slice(1), { shell: false, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });

    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try { process.kill(-child.pid, sig); } catch { /* already gone */ }
    };
    const stop = () => {
      if (killTimer) return;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), killAfterMs);
    };
    const timer = setTimeout(() => { timedOut = true; stop(); }, cmd.timeoutMs);
    const onAbort = () => { aborted = true; stop(); };
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (d: Buffer) => { if (!stdout.push(d)) stop(); });
    child.stderr.on('data', (d: Buffer) => { if (!stderr.push(d)) stop(); });
    child.on('error', (err: NodeJS.ErrnoException) => { spawnError = err; });
    child.on('close', (code: number | null, sig: NodeJS.Signals | null) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      if (aborted) return reject(abortError(signal!));
      const durationMs = Math.round(performance.now() - started);
      let err = stderr.text();
      let exit = code;
      if (spawnError) {
        // Same shape a shell would give, so probes treat a missing tool alike locally and remotely.
        exit = spawnError.code === 'ENOENT' ? 127 : 126;
        err = `${argv[0]}: ${spawnError.code === 'ENOENT' ? 'command not found' : spawnError.message}\n`;
      }
      if (privileged && isSudoRefusal(exit, err)) {
        return reject(sudoPasswordRequiredError('local', userInfo().username, cmd.argv, err));
      }
      const result: ExecResult = {
        code: exit, stdout: stdout.text(), stderr: err, durationMs,
        truncated: stdout.overflowed || stderr.overflowed, timedOut,
        ...(sig ? { signal: sig } : {}),
      };
      log?.debug({ argv0: cmd.argv[0], code: result.code, signal: result.signal, durationMs, timedOut }, 'local command finished');
      resolve(result);
    });
  });
}

/** An Executor for the worker's own machine. */
export function createLocalExecutor(options: { logger?: Logger; sudo?: boolean } = {}): Executor {
  const logger = options.logger ?? silentLogger();
  return {
    kind: 'local',
    target: 'local',
    exec: (cmd, opts = {}) => localExec(cmd, {
      ...opts,
      log: opts.log ?? logger,
      ...(options.sudo === undefined ? {} : { sudo: options.sudo }),
    }),
  };
}
