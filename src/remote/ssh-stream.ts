import type { Client, ClientChannel } from 'ssh2';
import type { ExecResult } from './executor.ts';
import { OutputBuffer } from './output-buffer.ts';
import { ChannelOpenError } from './ssh-exec.ts';

export interface RemoteStreamOptions {
  /** Resolve `ready` once a stderr line matches (tcpdump prints "listening on …" there). */
  readyPattern: RegExp;
  /** Local deadline for the whole stream: past it the channel is closed. */
  localTimeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
}

/** A long-running remote command whose output is read while it runs. */
export interface RemoteStream {
  ready: Promise<void>;
  stdoutLines(): string[];
  waitForStdout(predicate: (lines: string[]) => boolean, timeoutMs: number): Promise<boolean>;
  stop(): Promise<ExecResult>;
  /** Resolves when the channel has closed, however that happened. */
  closed: Promise<void>;
}

/**
 * How long stop() waits for the remote to confirm the end. The command is started through
 * renderStoppableCommand, so stdin EOF ends it within milliseconds; this only bounds a host whose
 * shell does not (the remote `timeout -k` then ends it, and the channel is closed locally).
 */
const closeConfirmMs = 1500;

/**
 * Opens one exec channel and exposes its output line by line. `command` must come from
 * renderStoppableCommand: stop() sends EOF, which ends it on any login, root included (sshd
 * ignores channel signals for root logins). What was streamed is already here either way.
 */
export function openRemoteStream(client: Client, command: string, options: RemoteStreamOptions): Promise<RemoteStream> {
  return new Promise<RemoteStream>((resolveOpen, rejectOpen) => {
    const started = performance.now();
    const onOpen = (err: Error | undefined, ch: ClientChannel): void => {
      if (err) {
        rejectOpen(new ChannelOpenError(err.message, { cause: err }));
        return;
      }
      const stdout = new OutputBuffer(options.maxOutputBytes);
      const stderr = new OutputBuffer(options.maxOutputBytes);
      const lines: string[] = [];
      let partial = '';
      let stderrText = '';
      let code: number | null = null;
      let exitSignal: string | undefined;
      let isClosed = false;
      let localTimedOut = false;
      const waiters = new Set<() => void>();
      const notify = (): void => { for (const w of [...waiters]) w(); };

      let markReady!: () => void;
      let failReady!: (e: Error) => void;
      let isReady = false;
      const ready = new Promise<void>((res, rej) => { markReady = res; failReady = rej; });
      ready.catch(() => undefined);

      let markClosed!: () => void;
      const closed = new Promise<void>((res) => { markClosed = res; });

      const close = (): void => {
        if (isClosed) return;
        try { ch.signal('TERM'); } catch { /* channel already closing */ }
        ch.close();
      };
      const endInput = (): void => {
        if (isClosed) return;
        try { ch.end(); } catch { /* channel already closing */ }
      };
      const timer = setTimeout(() => { localTimedOut = true; close(); }, options.localTimeoutMs);
      // The deadline only bounds the channel; it must not keep a finished CLI process alive.
      timer.unref();
      const onAbort = (): void => close();
      options.signal?.addEventListener('abort', onAbort, { once: true });

      ch.on('data', (d: Buffer) => {
        if (!stdout.push(d)) { close(); return; }
        const parts = (partial + d.toString('utf8')).split('\n');
        partial = parts.pop() ?? '';
        if (parts.length > 0) { lines.push(...parts); notify(); }
      });
      ch.stderr.on('data', (d: Buffer) => {
        if (!stderr.push(d)) { close(); return; }
        stderrText += d.toString('utf8');
        if (!isReady && options.readyPattern.test(stderrText)) { isReady = true; markReady(); }
      });
      ch.on('exit', (c: number | null, sig?: string) => {
        if (typeof c === 'number') code = c;
        if (sig) exitSignal = sig;
      });
      ch.on('close', () => {
        isClosed = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (partial) { lines.push(partial); partial = ''; }
        if (!isReady) failReady(new Error(`the command ended before it was ready: ${stderrText.trim().split('\n').pop() ?? 'no output'}`));
        notify();
        markClosed();
      });

      const result = (): ExecResult => ({
        code,
        ...(exitSignal ? { signal: exitSignal } : {}),
        stdout: lines.join('\n') + (lines.length ? '\n' : ''),
        stderr: stderr.text(),
        durationMs: Math.round(performance.now() - started),
        truncated: stdout.overflowed || stderr.overflowed,
        timedOut: localTimedOut || code === 124 || code === 137,
      });

      resolveOpen({
        ready,
        closed,
        stdoutLines: () => [...lines],
        waitForStdout: (predicate, timeoutMs) => new Promise<boolean>((res) => {
          const check = (): void => {
            if (predicate(lines)) { finish(true); return; }
            if (isClosed) finish(false);
          };
          const t = setTimeout(() => finish(false), timeoutMs);
          const finish = (v: boolean): void => { clearTimeout(t); waiters.delete(check); res(v); };
          waiters.add(check);
          check();
        }),
        stop: async () => {
          endInput();
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), closeConfirmMs); timer.unref(); });
          const confirmed = await Promise.race([closed.then(() => true), late]);
          clearTimeout(timer);
          if (!confirmed) close();
          return result();
        },
      });
    };
    try {
      client.exec(command, onOpen);
    } catch (err) {
      rejectOpen(new ChannelOpenError((err as Error).message, { cause: err }));
    }
  });
}
