import { isIP } from 'node:net';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { RemoteCommand } from '../remote/remote-command.ts';
import type { FirewallBackendInfo } from '../triage/evidence-types.ts';

export type FirewallManager = 'firewalld' | 'ufw';

/** A manager owns the rules: raw restores would be overwritten at its next reload. */
export function detectManager(backend: Pick<FirewallBackendInfo, 'firewalldActive' | 'ufwActive'>): FirewallManager | undefined {
  if (backend.firewalldActive) return 'firewalld';
  if (backend.ufwActive) return 'ufw';
  return undefined;
}

export interface ManagerWish {
  port: number;
  /** Client address or CIDR; absent = from anywhere. */
  source?: string;
  /** firewalld zone. @defaultValue the default zone */
  zone?: string;
}

/** The fix in the manager's own terms: a timed runtime change (the dead-man), then the permanent one. */
export interface ManagerPlan {
  manager: FirewallManager;
  /** Applied first; it undoes itself (firewalld --timeout) or is undone by `undo`. */
  apply: RemoteCommand[];
  /** After verification: make it stick across reloads and reboots. */
  confirm: RemoteCommand[];
  /** Takes the change back (rollback, or the dead-man for ufw, which has no timer). */
  undo: RemoteCommand[];
}

function requireWish(w: ManagerWish): { port: number; source?: string; family: 'ipv4' | 'ipv6'; zone?: string } {
  if (!Number.isInteger(w.port) || w.port < 1 || w.port > 65535) throw new WhyBlockedError(ErrorCode.UnsafeArgument, `Port must be 1-65535, got ${String(w.port)}.`);
  let family: 'ipv4' | 'ipv6' = 'ipv4';
  if (w.source !== undefined) {
    const [addr, len, extra] = w.source.split('/');
    const v = isIP(addr ?? '');
    const max = v === 6 ? 128 : 32;
    if (v === 0 || extra !== undefined || (len !== undefined && (!/^\d{1,3}$/.test(len) || Number(len) > max))) {
      throw new WhyBlockedError(ErrorCode.UnsafeArgument, `"${w.source}" is not an address or CIDR.`);
    }
    family = v === 6 ? 'ipv6' : 'ipv4';
  }
  if (w.zone !== undefined && !/^[A-Za-z0-9_-]{1,17}$/.test(w.zone)) throw new WhyBlockedError(ErrorCode.UnsafeArgument, `"${w.zone}" is not a firewalld zone name.`);
  return { port: w.port, family, ...(w.source !== undefined ? { source: w.source } : {}), ...(w.zone !== undefined ? { zone: w.zone } : {}) };
}

const run = (argv: string[]): RemoteCommand => ({ argv, sudo: true, timeoutMs: 30_000, maxOutputBytes: 64 * 1024 });

export function firewalldRichRule(w: ManagerWish): string {
  const v = requireWish(w);
  return `rule family="${v.family}"${v.source ? ` source address="${v.source}"` : ''} port port="${v.port}" protocol="tcp" accept`;
}

/**
 * firewalld: `--timeout` makes the runtime rule remove itself after T unless the permanent copy
 * is added and loaded; never raw iptables, which firewalld would wipe at its next reload.
 */
export function firewalldPlan(w: ManagerWish, deadmanSeconds: number): ManagerPlan {
  if (!Number.isInteger(deadmanSeconds) || deadmanSeconds < 1 || deadmanSeconds > 3600) throw new WhyBlockedError(ErrorCode.UnsafeArgument, 'The dead-man delay must be 1-3600 s.');
  const rule = firewalldRichRule(w);
  const zone = w.zone ? [`--zone=${w.zone}`] : [];
  return {
    manager: 'firewalld',
    apply: [run(['firewall-cmd', ...zone, `--add-rich-rule=${rule}`, `--timeout=${deadmanSeconds}s`])],
    // --reload swaps the timed runtime rule for the permanent one in a single step.
    confirm: [run(['firewall-cmd', '--permanent', ...zone, `--add-rich-rule=${rule}`]), run(['firewall-cmd', '--reload'])],
    undo: [run(['firewall-cmd', '--permanent', ...zone, `--remove-rich-rule=${rule}`]), run(['firewall-cmd', '--reload'])],
  };
}

/** ufw saves every rule change itself, so confirm is empty and undo is the only way back. */
export function ufwPlan(w: ManagerWish): ManagerPlan {
  const v = requireWish(w);
  const spec = ['allow', 'proto', 'tcp', 'from', v.source ?? 'any', 'to', 'any', 'port', String(v.port)];
  return {
    manager: 'ufw',
    apply: [run(['ufw', 'insert', '1', ...spec])],
    confirm: [],
    undo: [run(['ufw', 'delete', ...spec])],
  };
}
