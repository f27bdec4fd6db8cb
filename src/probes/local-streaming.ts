import { spawn } from 'node:child_process';
import type { ExecResult } from '../remote/executor.ts';
import { validateArg } from '../remote/quote.ts';
import { defaultMaxOutputBytes, remoteKillAfterMs, validateRemoteCommand } from '../remote/remote-command.ts';
import type { StartStreaming, StreamingSession } from './ports.ts';

export interface LocalStreamingOptions {
  /** Prepended to every argv, e.g. ['ip', 'netns', 'exec', 'ns1'] to run inside a namespace. */
  argvPrefix?: string[];
  /** How long after TERM the process group gets KILL. @defaultValue 2000 */
  killAfterMs?: number;
}

/**
 * StartStreaming for this machine: spawn with an argv (no shell), its own process group, the
 * command's timeoutMs as a hard limit. Commands marked sudo run as they are: the worker is root
 * or the prefix provides privilege.
 */
export function createLocalStreaming(options: LocalStreamingOptions = {}): StartStreaming {
  return (cmd, streamOptions): StreamingSession => {
    validateRemoteCommand(cmd);
    const argv = [...(options.argvPrefix ?? []), ...cmd.argv];
    argv.forEach(validateArg);
    const maxBytes = cmd.maxOutputBytes ?? defaultMaxOutputBytes;
    const killAfterMs = options.killAfterMs ?? remoteKillAfterMs;
    const started = performance.now();
    const stdoutLines: string[] = [];
    let stdoutRest = '';
    let stdoutBytes = 0;
    let stderr = '';
    let truncated = false;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const waiters = new Set<() => void>();
    const child = spawn(argv[0]!, argv.slice(1), { shell: false, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });

    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try { process.kill(-child.pid, sig); } catch { /* already gone */ }
    };
    const terminate = (): void => {
      if (killTimer) return;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), killAfterMs);
    };
    const limitTimer = setTimeout(() => { timedOut = true; terminate(); }, cmd.timeoutMs);
    const onAbort = (): void => terminate();
    streamOptions.signal?.addEventListener('abort', onAbort, { once: true });

    let markReady: () => void = () => undefined;
    let failReady: (err: Error) => void = () => undefined;
    let isReady = false;
    const ready = new Promise<void>((resolve, reject) => { markReady = resolve; failReady = reject; });
    ready.catch(() => undefined);

    child.stdout.on('data', (d: Buffer) => {
      stdoutBytes += d.length;
      if (stdoutBytes > maxBytes) { truncated = true; terminate(); return; }
      const parts = (stdoutRest + d.toString('utf8')).split('\n');
      stdoutRest = parts.pop() ?? '';
      stdoutLines.push(...parts.map((l) => l.replace(/\r$/, '')));
      waiters.forEach((w) => w());
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < maxBytes) stderr += d.toString('utf8');
      if (!isReady && streamOptions.readyPattern.test(stderr)) { isReady = true; markReady(); }
    });
    let spawnError: NodeJS.ErrnoException | undefined;
    let exited = false;
    child.on('error', (err: NodeJS.ErrnoException) => { spawnError = err; });
    const done = new Promise<ExecResult>((resolve) => {
      child.on('close', (code: number | null, sig: NodeJS.Signals | null) => {
        clearTimeout(limitTimer);
        clearTimeout(killTimer);
        streamOptions.signal?.removeEventListener('abort', onAbort);
        if (stdoutRest !== '') { stdoutLines.push(stdoutRest); stdoutRest = ''; }
        if (spawnError) stderr += `${argv[0]}: ${spawnError.code === 'ENOENT' ? 'command not found' : spawnError.message}\n`;
        const exit = spawnError ? (spawnError.code === 'ENOENT' ? 127 : 126) : code;
        exited = true;
        if (!isReady) failReady(new Error(`${cmd.argv[0]} ended before it was ready: ${stderr.trim().split('\n').pop() ?? `exit ${String(exit)}`}`));
        waiters.forEach((w) => w());
        resolve({
          code: exit, stdout: stdoutLines.map((l) => `${l}\n`).join(''), stderr,
          durationMs: Math.round(performance.now() - started), truncated, timedOut, ...(sig ? { signal: sig } : {}),
        });
      });
    });

    return {
      ready,
      stdoutLines: () => [...stdoutLines],
      waitForStdout(predicate, timeoutMs) {
        return new Promise<boolean>((resolve) => {
          const check = (): void => {
            if (predicate(stdoutLines)) finish(true);
            else if (exited) finish(false);
          };
          const timer = setTimeout(() => finish(false), timeoutMs);
          function finish(value: boolean): void {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(value);
          }
          waiters.add(check);
          check();
        });
      },
      stop() {
        terminate();
        return done;
      },
    };
  };
}
