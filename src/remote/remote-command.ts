import { ErrorCode, WhyBlockedError } from '../errors.ts';
import { buildCommand } from './quote.ts';

/**
 * A command built from a fixed template: argv elements are data, never shell syntax.
 * `timeoutMs` is the command's own budget; it is enforced on the remote (`timeout -k`) and locally.
 */
export interface RemoteCommand {
  argv: string[];
  /** Needs root: rendered as `sudo -n -- argv` when the host logs in unprivileged. */
  sudo?: boolean;
  timeoutMs: number;
  /** Cap on stdout and on stderr, each. @defaultValue 1 MiB */
  maxOutputBytes?: number;
}

export interface RenderOptions {
  /** The host's `ssh.sudo` setting: false means the login is already root, so no prefix. */
  sudo: boolean;
}

export const defaultMaxOutputBytes = 1024 * 1024;
/** `timeout -k`: how long after TERM the remote command gets KILL. */
export const remoteKillAfterMs = 2000;
export const maxCommandTimeoutMs = 10 * 60 * 1000;

export function validateRemoteCommand(cmd: RemoteCommand): void {
  if (!Number.isInteger(cmd.timeoutMs) || cmd.timeoutMs < 1 || cmd.timeoutMs > maxCommandTimeoutMs) {
    throw new WhyBlockedError(ErrorCode.UnsafeArgument,
      `Command timeout must be an integer from 1 to ${maxCommandTimeoutMs} ms, got ${String(cmd.timeoutMs)}.`);
  }
  if (cmd.maxOutputBytes !== undefined && (!Number.isInteger(cmd.maxOutputBytes) || cmd.maxOutputBytes < 0)) {
    throw new WhyBlockedError(ErrorCode.UnsafeArgument,
      `maxOutputBytes must be a non-negative integer, got ${String(cmd.maxOutputBytes)}.`);
  }
  if (!Array.isArray(cmd.argv) || cmd.argv.length === 0) {
    throw new WhyBlockedError(ErrorCode.UnsafeArgument, 'A command needs at least one argv element.');
  }
}

function seconds(ms: number): string {
  // `timeout` accepts decimals; three places keep millisecond budgets exact.
  return (ms / 1000).toFixed(3).replace(/\.?0+$/, '');
}

/**
 * The one exec string sent over SSH. `timeout` wraps `sudo`, not the other way round, so the
 * sudoers file only has to allow the probe itself; sudo relays timeout's TERM to the probe.
 */
export function renderRemoteCommand(cmd: RemoteCommand, options: RenderOptions): string {
  validateRemoteCommand(cmd);
  const privileged = cmd.sudo === true && options.sudo;
  return buildCommand([
    'timeout', '-k', seconds(remoteKillAfterMs), seconds(cmd.timeoutMs),
    ...(privileged ? ['sudo', '-n', '--'] : []),
    ...cmd.argv,
  ]);
}

/**
 * The exec string for a command that is read while it runs and ended on demand (a capture). The
 * command runs in the background and is sent TERM when the channel's stdin reaches EOF: sshd
 * refuses channel signals for root logins, but EOF reaches every login, and `timeout` relays the
 * TERM through sudo to the probe, so the sudoers rule stays the probe's own. The template is fixed;
 * only the rendered, quoted command varies.
 */
export function renderStoppableCommand(cmd: RemoteCommand, options: RenderOptions): string {
  const command = renderRemoteCommand(cmd, options);
  // fd 3 keeps the channel's stdin: a background list's own stdin is /dev/null.
  return `exec 3<&0; ${command} & p=$!; (read -r _ <&3; kill $p 2>/dev/null) & w=$!; wait $p; c=$?; kill $w 2>/dev/null; exit $c`;
}
