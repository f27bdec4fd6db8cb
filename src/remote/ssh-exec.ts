import type { Client, ClientChannel } from 'ssh2';
import { OutputBuffer } from './output-buffer.ts';
import { abortError } from './semaphore.ts';

export interface ChannelRunOptions {
  /** Local deadline: past it the channel is signalled and closed. */
  localTimeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
}

export interface ChannelOutcome {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
  truncated: boolean;
  localTimedOut: boolean;
  /** Whether the server reported an exit status or signal; false when the channel just vanished. */
  exitReceived: boolean;
  /** We stopped the command and the server never confirmed the channel close: the link is suspect. */
  abandoned: boolean;
}

/** How long to wait for the server to confirm a channel close we asked for. */
const abandonAfterMs = 5000;

/** The channel could not be opened, so the command never started (safe to retry elsewhere). */
export class ChannelOpenError extends Error {
  override readonly name = 'ChannelOpenError';
}

/**
 * Runs one exec string on an open client. Resolves on `close`, never `exit` (`exit` can come
 * before the last output, ssh2#1249), and drains both streams so `close` can come at all.
 */
export function runOnChannel(client: Client, command: string, options: ChannelRunOptions): Promise<ChannelOutcome> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise<ChannelOutcome>((resolve, reject) => {
    const started = performance.now();
    const stdout = new OutputBuffer(options.maxOutputBytes);
    const stderr = new OutputBuffer(options.maxOutputBytes);
    let channel: ClientChannel | undefined;
    let localTimedOut = false;
    let aborted = false;
    let exitReceived = false;
    let stopping = false;
    let finished = false;
    let abandonTimer: NodeJS.Timeout | undefined;

    const finish = (code: number | null | undefined, sig: string | undefined, abandoned: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      clearTimeout(abandonTimer);
      signal?.removeEventListener('abort', onAbort);
      if (aborted) return reject(abortError(signal!));
      resolve({
        code: typeof code === 'number' ? code : null,
        ...(sig ? { signal: sig } : {}),
        stdout: stdout.text(),
        stderr: stderr.text(),
        durationMs: Math.round(performance.now() - started),
        truncated: stdout.overflowed || stderr.overflowed,
        localTimedOut,
        exitReceived,
        abandoned,
      });
    };
    const closeChannel = (ch: ClientChannel) => {
      // Signals are honoured for non-root logins only (stack.md §3); the remote `timeout -k`
      // is the backstop, and closing the channel frees our side either way.
      try { ch.signal('KILL'); } catch { /* channel already closing */ }
      ch.close();
    };
    const stop = () => {
      if (stopping) return;
      stopping = true;
      if (channel) closeChannel(channel);
      // On a dead link the server never answers (neither the open nor our close); give up so the
      // caller's deadline holds, and let it treat the connection as broken.
      abandonTimer = setTimeout(() => finish(null, undefined, true), channel ? abandonAfterMs : 0);
    };
    // Covers the channel open too: on a black-holed link even that never completes.
    const deadline = setTimeout(() => { localTimedOut = true; stop(); }, options.localTimeoutMs);
    const onAbort = () => { aborted = true; stop(); };
    signal?.addEventListener('abort', onAbort, { once: true });

    const onOpen = (err: Error | undefined, ch: ClientChannel) => {
      if (finished) {
        // We gave up before the server answered; don't leave a command running for nobody.
        if (!err) closeChannel(ch);
        return;
      }
      if (err) {
        clearTimeout(deadline);
        signal?.removeEventListener('abort', onAbort);
        finished = true;
        return reject(new ChannelOpenError(err.message, { cause: err }));
      }
      channel = ch;
      if (stopping) closeChannel(ch);
      ch.on('data', (d: Buffer) => { if (!stdout.push(d)) stop(); });
      ch.stderr.on('data', (d: Buffer) => { if (!stderr.push(d)) stop(); });
      ch.on('exit', () => { exitReceived = true; });
      ch.on('close', (code?: number | null, sig?: string) => finish(code, sig, false));
    };
    try {
      client.exec(command, onOpen);
    } catch (err) {
      // ssh2 throws 'Not connected' synchronously when the socket is already gone.
      finished = true;
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      reject(new ChannelOpenError((err as Error).message, { cause: err }));
    }
  });
}
