import type { InventoryHost } from '../config/inventory-types.ts';
import type { ExecResult } from '../remote/executor.ts';
import type { SshPool } from '../remote/ssh-pool.ts';
import type { RemoteStream } from '../remote/ssh-stream.ts';
import type { StartStreaming, StreamingSession } from './ports.ts';

/**
 * StartStreaming over the host's pooled SSH connection. Opening the channel is asynchronous, so
 * the session answers from a promise: before the channel exists there is simply no output yet.
 */
export function createSshStreaming(pool: SshPool, host: InventoryHost): StartStreaming {
  return (cmd, options): StreamingSession => {
    const opening: Promise<RemoteStream> = pool.stream(host, cmd, options);
    opening.catch(() => undefined);
    let stream: RemoteStream | undefined;
    void opening.then((s) => { stream = s; }, () => undefined);
    const failed = (err: unknown): ExecResult => ({
      code: null, stdout: '', stderr: err instanceof Error ? err.message : String(err), durationMs: 0, truncated: false, timedOut: false,
    });
    return {
      ready: opening.then((s) => s.ready),
      stdoutLines: () => stream?.stdoutLines() ?? [],
      waitForStdout: (predicate, timeoutMs) => opening.then((s) => s.waitForStdout(predicate, timeoutMs), () => false),
      stop: () => opening.then((s) => s.stop(), failed),
    };
  };
}
