import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { InventoryHost } from '../config/inventory-types.ts';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { Logger } from '../log/create-logger.ts';
import type { ExecOptions, ExecResult } from './executor.ts';
import { defaultMaxOutputBytes, remoteKillAfterMs, renderRemoteCommand, renderStoppableCommand, type RemoteCommand } from './remote-command.ts';
import { abortError, Semaphore } from './semaphore.ts';
import { connectionKey, connectSsh, mapSshError, type SshConnectDeps, type SshConnection } from './ssh-connect.ts';
import { ChannelOpenError, runOnChannel, type ChannelOutcome, type ChannelRunOptions } from './ssh-exec.ts';
import { isSudoRefusal, sudoPasswordRequiredError } from './sudo-refusal.ts';
import { openRemoteStream, type RemoteStream } from './ssh-stream.ts';

/** 20 ms doubling: about 5 s in all, enough for sshd to reap closed sessions under load. */
const channelOpenRetries = 8;

export interface SshPoolOptions {
  logger: Logger;
  /** Turns an `ssh.jump` name into its inventory host. */
  resolveJump: (name: string) => InventoryHost;
  /** Concurrent exec channels per connection; OpenSSH's MaxSessions is 10. @defaultValue 8 */
  maxChannelsPerConnection?: number;
  /** Close a connection after this long without channels. @defaultValue 60000 */
  idleTtlMs?: number;
  /** @defaultValue 15000 */
  keepaliveIntervalMs?: number;
  /** @defaultValue 3 */
  keepaliveCountMax?: number;
  /** Local deadline = timeoutMs + remote kill-after + this, so the remote `timeout` normally wins. @defaultValue 1000 */
  localGraceMs?: number;
  /** Reads private keys and known_hosts files. @defaultValue fs.readFile utf8 */
  readFile?: (path: string) => Promise<string>;
  /** ssh-agent socket for hosts without ssh.privateKey. */
  agent?: string;
}

export interface SshExecOptions extends ExecOptions {
  /** Run on a brand-new connection that is closed afterwards (proves a login still works). */
  fresh?: boolean;
}

export interface SshConnectionStats {
  key: string;
  host: string;
  state: 'connecting' | 'ready';
  channelsInUse: number;
  channelsWaiting: number;
  peakChannelsInUse: number;
}

export interface SshPoolStats {
  openConnections: number;
  connecting: number;
  channelsInUse: number;
  channelsWaiting: number;
  /** Connections opened by connectFresh / `fresh: true` that are still open. */
  freshConnections: number;
  connections: SshConnectionStats[];
}

/** A dedicated connection outside the pool. */
export interface FreshSshConnection {
  exec(cmd: RemoteCommand, options?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

interface Entry {
  key: string;
  host: InventoryHost;
  log: Logger;
  state: 'connecting' | 'ready';
  ready: Promise<SshConnection>;
  conn?: SshConnection;
  sem: Semaphore;
  idleTimer?: NodeJS.Timeout;
}

/**
 * One ssh2 client per user@host:port (per jump route), shared by all probes for that host, with a
 * channel cap below MaxSessions, an idle TTL and lazy reconnect: a dead connection is dropped and
 * the next exec opens a new one.
 */
export class SshPool {
  readonly #log: Logger;
  readonly #resolveJump: (name: string) => InventoryHost;
  readonly #maxChannels: number;
  readonly #idleTtlMs: number;
  readonly #localGraceMs: number;
  readonly #deps: SshConnectDeps;
  readonly #entries = new Map<string, Entry>();
  readonly #fresh = new Set<SshConnection>();
  #closed = false;

  constructor(options: SshPoolOptions) {
    this.#log = options.logger;
    this.#resolveJump = options.resolveJump;
    this.#maxChannels = options.maxChannelsPerConnection ?? 8;
    this.#idleTtlMs = options.idleTtlMs ?? 60_000;
    this.#localGraceMs = options.localGraceMs ?? 1000;
    this.#deps = {
      resolveJump: options.resolveJump,
      readFile: options.readFile ?? ((path) => readFile(path, 'utf8')),
      keepaliveIntervalMs: options.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: options.keepaliveCountMax ?? 3,
      ...(options.agent ? { agent: options.agent } : {}),
      logger: options.logger,
    };
  }

  async exec(host: InventoryHost, cmd: RemoteCommand, options: SshExecOptions = {}): Promise<ExecResult> {
    const command = renderRemoteCommand(cmd, { sudo: host.ssh.sudo });
    this.#assertOpen();
    if (options.fresh) {
      const fresh = await this.connectFresh(host);
      try {
        return await fresh.exec(cmd, options);
      } finally {
        await fresh.close();
      }
    }
    // One retry, and only when the channel never opened: a pooled connection can die quietly
    // between uses, and then the command has not started, so running it on a new one is safe.
    for (let attempt = 1; ; attempt += 1) {
      const entry = this.#entryFor(host);
      const release = await entry.sem.acquire(options.signal, { urgent: options.urgent === true });
      this.#clearIdle(entry);
      try {
        const conn = await entry.ready;
        return await this.#run(conn, cmd, command, options.log ?? entry.log, options.signal);
      } catch (err) {
        if (err instanceof ChannelOpenError && attempt === 1 && !entry.conn?.isOpen()) {
          entry.log.info({ err: err.message }, 'pooled ssh connection was dead; reconnecting');
          this.#evict(entry);
          continue;
        }
        throw err instanceof ChannelOpenError ? this.#channelError(host, err) : err;
      } finally {
        release();
        this.#armIdle(entry);
      }
    }
  }

  /**
   * Starts a long-running command (a capture) on the pooled connection and streams its output.
   * It holds one channel slot until it closes, like any other command.
   */
  async stream(host: InventoryHost, cmd: RemoteCommand, options: { readyPattern: RegExp; signal?: AbortSignal }): Promise<RemoteStream> {
    const command = renderStoppableCommand(cmd, { sudo: host.ssh.sudo });
    this.#assertOpen();
    const entry = this.#entryFor(host);
    // A stream is a live capture: the test connect waits for it, so it takes the next free channel.
    const release = await entry.sem.acquire(options.signal, { urgent: true });
    this.#clearIdle(entry);
    try {
      const conn = await entry.ready;
      const stream = await openRemoteStream(conn.client, command, {
        readyPattern: options.readyPattern,
        localTimeoutMs: cmd.timeoutMs + remoteKillAfterMs + this.#localGraceMs,
        maxOutputBytes: cmd.maxOutputBytes ?? defaultMaxOutputBytes,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      void stream.closed.then(() => { release(); this.#armIdle(entry); });
      return stream;
    } catch (err) {
      release();
      this.#armIdle(entry);
      throw err instanceof ChannelOpenError ? this.#channelError(host, err) : err;
    }
  }

  /** Opens a NEW connection for this host, never shared with the pool. */
  async connectFresh(host: InventoryHost): Promise<FreshSshConnection> {
    this.#assertOpen();
    const conn = await connectSsh(host, this.#deps);
    this.#fresh.add(conn);
    void conn.closed.then(() => this.#fresh.delete(conn));
    const sem = new Semaphore(this.#maxChannels);
    const log = this.#log.child({ host: host.name, fresh: true });
    return {
      exec: async (cmd, options = {}) => {
        const command = renderRemoteCommand(cmd, { sudo: host.ssh.sudo });
        const release = await sem.acquire(options.signal);
        try {
          return await this.#run(conn, cmd, command, options.log ?? log, options.signal);
        } catch (err) {
          throw err instanceof ChannelOpenError ? this.#channelError(host, err) : err;
        } finally {
          release();
        }
      },
      close: () => conn.end(),
    };
  }

  stats(): SshPoolStats {
    const connections = [...this.#entries.values()].map((e) => ({
      key: e.key, host: e.host.name, state: e.state,
      channelsInUse: e.sem.inUse, channelsWaiting: e.sem.waiting, peakChannelsInUse: e.sem.peak,
    }));
    return {
      openConnections: connections.filter((c) => c.state === 'ready').length,
      connecting: connections.filter((c) => c.state === 'connecting').length,
      channelsInUse: connections.reduce((n, c) => n + c.channelsInUse, 0),
      channelsWaiting: connections.reduce((n, c) => n + c.channelsWaiting, 0),
      freshConnections: this.#fresh.size,
      connections,
    };
  }

  /** Ends every connection (pooled and fresh) and waits until their sockets are closed. */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#entries.values()];
    entries.forEach((e) => this.#evict(e));
    await Promise.all([
      ...entries.map((e) => e.ready.then((c) => c.end(), () => undefined)),
      ...[...this.#fresh].map((c) => c.end()),
    ]);
  }

  /**
   * sshd frees a session slot only when it garbage-collects the closed channel, which can be after
   * it reads our next CHANNEL_OPEN; a burst of closes and opens then gets "open failed" even under
   * MaxSessions. The command has not started, so retrying on the same connection is safe.
   */
  async #openAndRun(conn: SshConnection, command: string, options: ChannelRunOptions, log: Logger): Promise<ChannelOutcome> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await runOnChannel(conn.client, command, options);
      } catch (err) {
        if (!(err instanceof ChannelOpenError) || !conn.isOpen() || attempt >= channelOpenRetries) throw err;
        const delayMs = 20 * 2 ** attempt;
        log.debug({ attempt: attempt + 1, delayMs, err: err.message }, 'channel open refused; retrying');
        const { signal } = options;
        await sleep(delayMs, undefined, signal ? { signal } : {}).catch(() => { throw abortError(signal!); });
      }
    }
  }

  async #run(conn: SshConnection, cmd: RemoteCommand, command: string, log: Logger, signal?: AbortSignal): Promise<ExecResult> {
    const outcome = await this.#openAndRun(conn, command, {
      localTimeoutMs: cmd.timeoutMs + remoteKillAfterMs + this.#localGraceMs,
      maxOutputBytes: cmd.maxOutputBytes ?? defaultMaxOutputBytes,
      ...(signal ? { signal } : {}),
    }, log);
    if (outcome.abandoned) {
      log.warn('server did not confirm a channel close; dropping the connection');
      conn.client.destroy();
    }
    if (!outcome.exitReceived && !outcome.localTimedOut && !outcome.truncated && !conn.isOpen()) {
      throw mapSshError(new Error('the connection was lost while the command ran'), { host: conn.host, tcpConnected: true });
    }
    const usedSudo = cmd.sudo === true && conn.host.ssh.sudo;
    if (usedSudo && isSudoRefusal(outcome.code, outcome.stderr)) {
      throw sudoPasswordRequiredError(conn.host.name, conn.host.ssh.user, cmd.argv, outcome.stderr);
    }
    // `timeout` exits 124 after TERM and 137 after the KILL that follows -k.
    const remoteTimedOut = (outcome.code === 124 || outcome.code === 137) && outcome.durationMs >= cmd.timeoutMs;
    const result: ExecResult = {
      code: outcome.code,
      ...(outcome.signal ? { signal: outcome.signal } : {}),
      stdout: outcome.stdout,
      stderr: outcome.stderr,
      durationMs: outcome.durationMs,
      truncated: outcome.truncated,
      timedOut: outcome.localTimedOut || remoteTimedOut,
    };
    log.debug({ argv0: cmd.argv[0], code: result.code, signal: result.signal, durationMs: result.durationMs,
      timedOut: result.timedOut, truncated: result.truncated }, 'remote command finished');
    return result;
  }

  #channelError(host: InventoryHost, err: ChannelOpenError): WhyBlockedError {
    return new WhyBlockedError(ErrorCode.SshConnectFailed,
      `Could not start a command on ${host.name}: ${err.message}. If this repeats, check sshd's MaxSessions on the host (it must be above 8).`,
      { cause: err, details: { host: host.name } });
  }

  #entryFor(host: InventoryHost): Entry {
    const key = connectionKey(host, this.#resolveJump);
    const existing = this.#entries.get(key);
    if (existing) return existing;
    const entry: Entry = {
      key, host, log: this.#log.child({ host: host.name }), state: 'connecting',
      sem: new Semaphore(this.#maxChannels),
      ready: undefined as unknown as Promise<SshConnection>,
    };
    entry.ready = connectSsh(host, this.#deps).then(
      (conn) => {
        if (this.#entries.get(key) !== entry) {
          // Evicted (pool closed) while connecting: nobody will ever end it otherwise.
          void conn.end();
          return conn;
        }
        entry.conn = conn;
        entry.state = 'ready';
        void conn.closed.then(() => {
          entry.log.debug('ssh connection closed');
          this.#evict(entry);
        });
        this.#armIdle(entry);
        return conn;
      },
      (err: unknown) => {
        // A failed connect is not cached: the next exec tries again.
        this.#evict(entry);
        throw err;
      },
    );
    // Waiters attach their own handlers; this one only keeps a failure from being "unhandled".
    entry.ready.catch(() => undefined);
    this.#entries.set(key, entry);
    return entry;
  }

  #evict(entry: Entry): void {
    this.#clearIdle(entry);
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    if (entry.conn?.isOpen()) void entry.conn.end();
  }

  #armIdle(entry: Entry): void {
    if (entry.state !== 'ready' || entry.sem.inUse > 0 || entry.sem.waiting > 0 || this.#entries.get(entry.key) !== entry) return;
    this.#clearIdle(entry);
    entry.idleTimer = setTimeout(() => {
      entry.log.debug({ idleTtlMs: this.#idleTtlMs }, 'closing idle ssh connection');
      this.#evict(entry);
    }, this.#idleTtlMs);
    // The timer alone must not hold the event loop open; the socket and pool.close() decide that.
    entry.idleTimer.unref();
  }

  #clearIdle(entry: Entry): void {
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
  }

  #assertOpen(): void {
    if (this.#closed) throw new WhyBlockedError(ErrorCode.SshConnectFailed, 'The SSH pool is closed (the worker is shutting down).');
  }
}
