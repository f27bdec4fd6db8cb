import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import type { Duplex } from 'node:stream';
import type { InventoryHost } from '../config/inventory-types.ts';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { Logger } from '../log/create-logger.ts';
import { buildHostKeyPolicy, createHostVerifier, hostKeyAlgorithmsFor } from './known-hosts.ts';

export interface SshConnectDeps {
  resolveJump: (name: string) => InventoryHost;
  readFile: (path: string) => Promise<string>;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /** ssh-agent socket, used when a host has no privateKey. */
  agent?: string;
  logger: Logger;
}

/** A verified, authenticated connection, plus the jump connections it rides on (outermost last). */
export interface SshConnection {
  client: Client;
  host: InventoryHost;
  label: string;
  hops: SshConnection[];
  /** Resolves once this connection and all its hops are closed. */
  closed: Promise<void>;
  isOpen(): boolean;
  /** Ends this connection first, then its hops (ssh2 README "Connection hopping"). */
  end(): Promise<void>;
}

const maxJumpDepth = 4;

export function sshAddress(host: InventoryHost): string {
  const address = host.addresses[0];
  if (!address) {
    throw new WhyBlockedError(ErrorCode.ConfigInvalid, `Inventory host ${host.name} has no address to connect to; add one under addresses.`);
  }
  return address;
}

/** The pool key: one connection per user@address:port, per jump route. */
export function connectionKey(host: InventoryHost, resolveJump: (name: string) => InventoryHost, depth = 0): string {
  const own = `${host.ssh.user}@${sshAddress(host)}:${host.ssh.port}`;
  if (!host.ssh.jump) return own;
  if (depth >= maxJumpDepth) return `${own} via …`;
  return `${own} via ${connectionKey(resolveJump(host.ssh.jump), resolveJump, depth + 1)}`;
}

function label(host: InventoryHost): string {
  return `${host.name} (${host.ssh.user}@${sshAddress(host)}:${host.ssh.port})`;
}

async function readOptional(deps: SshConnectDeps, path: string, what: string): Promise<string> {
  try {
    return await deps.readFile(path);
  } catch (err) {
    throw new WhyBlockedError(ErrorCode.ConfigInvalid,
      `Cannot read the ${what} file ${path}: ${(err as Error).message}. Fix the path in the inventory or the file's permissions.`,
      { cause: err });
  }
}

interface ErrorContext {
  host: InventoryHost;
  tcpConnected: boolean;
  via?: string;
}

/** ssh2 tags errors with `level`; these become our stable codes with an operator-facing message. */
export function mapSshError(err: unknown, ctx: ErrorContext): WhyBlockedError {
  if (err instanceof WhyBlockedError) return err;
  const e = err as Error & { level?: string; code?: string };
  const where = label(ctx.host) + (ctx.via ? ` via jump host ${ctx.via}` : '');
  const details = { host: ctx.host.name, user: ctx.host.ssh.user, port: ctx.host.ssh.port, sshError: e.message, level: e.level };
  if (e.level === 'client-timeout' && /handshake/i.test(e.message)) {
    const stage = ctx.tcpConnected
      ? 'the TCP connection opened but the SSH handshake never completed (is it really sshd on that port?)'
      : 'no TCP connection could be made (a firewall dropping packets, or the host is down)';
    return new WhyBlockedError(ErrorCode.SshTimeout,
      `SSH to ${where} timed out after ${ctx.host.ssh.readyTimeoutMs} ms: ${stage}. Check that sshd is up and reachable, or raise ssh.readyTimeoutMs.`,
      { cause: err, details: { ...details, tcpConnected: ctx.tcpConnected } });
  }
  if (e.level === 'client-timeout') {
    return new WhyBlockedError(ErrorCode.SshTimeout,
      `SSH connection to ${where} stopped answering keepalives. Check the network path to the host.`, { cause: err, details });
  }
  if (e.level === 'client-authentication') {
    const key = ctx.host.ssh.privateKey ?? 'the ssh-agent keys';
    return new WhyBlockedError(ErrorCode.SshAuthFailed,
      `SSH login to ${where} was refused for user ${ctx.host.ssh.user}. Check that the public half of ${key} is in that user's authorized_keys, `
      + 'that the account is not locked, and that ssh.user in the inventory is right.',
      { cause: err, details });
  }
  if (/no matching host key format/i.test(e.message)) {
    return new WhyBlockedError(ErrorCode.SshHostKeyMismatch,
      `${where} offers none of the host key types that are trusted for it, so its identity cannot be checked. No command was run. `
      + 'Review the host keys it has now (ssh-keyscan, compared out of band) and update the pinned keys.',
      { cause: err, details });
  }
  const reason = e.code === 'ECONNREFUSED' ? 'connection refused (sshd is not listening there, or a firewall rejects it)'
    : e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH' ? `no route to the host (${e.code})`
      : e.code === 'ETIMEDOUT' ? 'TCP connect timed out'
        : e.message;
  return new WhyBlockedError(ErrorCode.SshConnectFailed,
    `Cannot open an SSH connection to ${where}: ${reason}. Check the address and port in the inventory and that the host is up.`,
    { cause: err, details: { ...details, errno: e.code } });
}

function forwardOut(bastion: SshConnection, host: InventoryHost): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    const target = `${sshAddress(host)}:${host.ssh.port}`;
    let done = false;
    const fail = (err: Error, code: ErrorCode = ErrorCode.SshConnectFailed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new WhyBlockedError(code,
        `Jump host ${bastion.host.name} could not open a TCP connection to ${target} for ${host.name}: ${err.message}. `
        + 'Check that the jump host can reach the target and allows TCP forwarding (AllowTcpForwarding).',
        { cause: err, details: { host: host.name, jump: bastion.host.name } }));
    };
    // The bastion's own connect to a black-holed target can take minutes; the target's handshake
    // budget applies to the whole way there.
    const timer = setTimeout(() => fail(new Error(`no answer within ${host.ssh.readyTimeoutMs} ms`), ErrorCode.SshTimeout), host.ssh.readyTimeoutMs);
    try {
      bastion.client.forwardOut('127.0.0.1', 0, sshAddress(host), host.ssh.port, (err, stream) => {
        if (err) return fail(err);
        if (done) {
          stream.close();
          return;
        }
        done = true;
        clearTimeout(timer);
        resolve(stream);
      });
    } catch (err) {
      fail(err as Error);
    }
  });
}

/**
 * Opens a verified connection to `host`, hopping through its jump host (itself verified the same way)
 * when it has one. Nothing is executed here; a rejected host key ends the handshake before auth.
 */
export async function connectSsh(host: InventoryHost, deps: SshConnectDeps, via: readonly string[] = []): Promise<SshConnection> {
  if (via.includes(host.name) || via.length > maxJumpDepth) {
    throw new WhyBlockedError(ErrorCode.ConfigInvalid,
      `Jump hosts for ${via[0] ?? host.name} form a loop or are nested too deep (${[...via, host.name].join(' → ')}). Fix ssh.jump in the inventory.`);
  }
  const address = sshAddress(host);
  const log = deps.logger.child({ host: host.name });

  const knownHostsText = host.ssh.knownHosts ? await readOptional(deps, host.ssh.knownHosts, 'known_hosts') : undefined;
  const policy = buildHostKeyPolicy({
    host: address,
    port: host.ssh.port,
    aliases: [host.name, ...host.aliases],
    ...(knownHostsText === undefined ? {} : { knownHosts: knownHostsText, knownHostsPath: host.ssh.knownHosts! }),
    ...(host.ssh.hostKeys ? { pinned: host.ssh.hostKeys } : {}),
  });
  for (const warning of policy.warnings) log.warn({ warning }, 'known_hosts line ignored');

  const privateKey = host.ssh.privateKey ? await readOptional(deps, host.ssh.privateKey, 'SSH private key') : undefined;
  if (!privateKey && !deps.agent) {
    throw new WhyBlockedError(ErrorCode.SshAuthFailed,
      `No SSH credentials for ${host.name}: set ssh.privateKey in the inventory (or run the worker with an ssh-agent).`,
      { details: { host: host.name } });
  }

  let bastion: SshConnection | undefined;
  let sock: Duplex | undefined;
  if (host.ssh.jump) {
    bastion = await connectSsh(deps.resolveJump(host.ssh.jump), deps, [...via, host.name]);
    try {
      sock = await forwardOut(bastion, host);
    } catch (err) {
      await bastion.end();
      throw err;
    }
  }

  const client = new Client();
  let rejectedKey: WhyBlockedError | undefined;
  let tcpConnected = sock !== undefined;
  const algorithms = hostKeyAlgorithmsFor(policy.trusted);
  const config: ConnectConfig = {
    host: address,
    port: host.ssh.port,
    username: host.ssh.user,
    readyTimeout: host.ssh.readyTimeoutMs,
    keepaliveInterval: deps.keepaliveIntervalMs,
    keepaliveCountMax: deps.keepaliveCountMax,
    hostVerifier: createHostVerifier(policy, (err) => { rejectedKey = err; }),
    ...(algorithms.length > 0 ? { algorithms: { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] } } : {}),
    ...(privateKey ? { privateKey } : { agent: deps.agent! }),
    ...(sock ? { sock } : {}),
  };

  let open = false;
  let ready = false;
  // Always listening: ssh2 emits more errors after the first (e.g. "Connection lost before
  // handshake" after a timeout), and an 'error' without a listener would crash the worker.
  client.on('error', (err) => {
    // Before ready the connect promise reports the first error; later ones after a failure are noise.
    if (!ready) return;
    log.warn({ err: { message: err.message, level: (err as { level?: string }).level } }, 'ssh connection error');
  });
  const closed = new Promise<void>((resolve) => client.once('close', () => { open = false; resolve(); }));
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => { cleanup(); reject(rejectedKey ?? mapSshError(err, { host, tcpConnected, ...(bastion ? { via: bastion.host.name } : {}) })); };
      const onClose = () => { cleanup(); reject(rejectedKey ?? mapSshError(new Error('connection closed during the handshake'), { host, tcpConnected })); };
      const onReady = () => { cleanup(); resolve(); };
      const cleanup = () => { client.off('error', onError).off('close', onClose).off('ready', onReady); };
      client.on('error', onError).on('close', onClose).on('ready', onReady);
      client.on('connect', () => { tcpConnected = true; });
      client.connect(config);
    });
  } catch (err) {
    client.destroy();
    if (bastion) await bastion.end();
    throw err;
  }
  // From here an error only means the connection is going away; the pool reacts to `close`.
  ready = true;
  open = true;
  log.debug({ via: bastion?.host.name }, 'ssh connection ready');

  const hops = bastion ? [bastion, ...bastion.hops] : [];
  if (bastion) void closed.then(() => bastion.end());
  const allClosed = Promise.all([closed, ...hops.map((h) => h.closed)]).then(() => undefined);
  let ending: Promise<void> | undefined;
  return {
    client,
    host,
    label: label(host),
    hops,
    closed: allClosed,
    isOpen: () => open,
    end: () => {
      ending ??= (async () => {
        client.end();
        // A peer that ignores our disconnect must not keep the socket (and the test process) alive.
        const force = setTimeout(() => client.destroy(), 2000);
        force.unref();
        await closed;
        clearTimeout(force);
        if (bastion) await bastion.end();
        await allClosed;
      })();
      return ending;
    },
  };
}
