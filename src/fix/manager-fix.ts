import { isIP } from 'node:net';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { RemoteCommand } from '../remote/remote-command.ts';
import type { FirewallBackendInfo } from '../triage/evidence-types.ts';
import type { FixOption, ManagedFix } from '../triage/report-types.ts';

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

/** The plan for a stored wish; every command comes from the validated builders above. */
export function managerPlan(fix: ManagedFix, deadmanSeconds: number): ManagerPlan {
  const wish: ManagerWish = { port: fix.port, ...(fix.source !== undefined ? { source: fix.source } : {}), ...(fix.zone !== undefined ? { zone: fix.zone } : {}) };
  if (fix.kind === 'firewalld') return firewalldPlan(wish, deadmanSeconds);
  if (fix.kind === 'ufw') {
    if (fix.zone !== undefined) throw new WhyBlockedError(ErrorCode.UnsafeArgument, 'ufw has no zones; the stored fix names one. Re-run the triage.');
    return ufwPlan(wish);
  }
  throw new WhyBlockedError(ErrorCode.UnsafeArgument, `"${String((fix as { kind: unknown }).kind)}" is not a firewall manager.`);
}

/** As an operator would type it: `--add-rich-rule='rule family="ipv4" …'`. */
export function renderOperatorCommand(argv: string[]): string {
  return argv.map((a) => {
    if (/^[A-Za-z0-9_./:=,-]+$/.test(a)) return a;
    const opt = /^(--[a-z-]+=)(.*)$/s.exec(a);
    const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
    return opt ? `${opt[1]!}${quote(opt[2]!)}` : quote(a);
  }).join(' ');
}

/** firewalld names its chains after zones (IN_public_allow, filter_IN_public_deny…). */
export function zoneFromChain(chain: string): string | undefined {
  const m = /^(?:filter_)?IN_([A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*?)(?:_(?:pre|log|deny|allow|post|REJECT))?$/.exec(chain);
  const zone = m?.[1];
  return zone !== undefined && zone !== 'policy' && /^[A-Za-z0-9_-]{1,17}$/.test(zone) ? zone : undefined;
}

export interface ManagerFixInput {
  manager: FirewallManager;
  port: number;
  /** The client's address as the target sees it. */
  client: string;
  /** firewalld zone, when the rules tell it. */
  zone?: string;
  targetHost: string;
  /** Shown in the firewalld command; the worker uses WHY_BLOCKED_DEADMAN_SECONDS. @defaultValue 60 */
  deadmanSeconds?: number;
}

/** Fix options in the manager's terms, narrowest first: this client only, then everyone. */
export function managerFixOptions(input: ManagerFixInput): FixOption[] {
  const family = isIP(input.client) === 6 ? 'ipv6' : 'ipv4';
  const clientCidr = `${input.client}/${family === 'ipv6' ? 128 : 32}`;
  const wishes: { id: string; source?: string; who: string; blast: string }[] = [
    { id: 'manager-allow-client', source: clientCidr, who: `${input.client} only`, blast: `only ${clientCidr} gains access to TCP port ${input.port}` },
    { id: 'manager-allow-port', who: 'any source', blast: `every source (${input.manager === 'firewalld' ? family : 'IPv4 and IPv6'}) gains access to TCP port ${input.port}` },
  ];
  // A firewalld rich rule without a source is one family only: an IPv6 client gets the narrow option alone.
  const offered = input.manager === 'firewalld' && family === 'ipv6' ? wishes.slice(0, 1) : wishes;
  return offered.map((w): FixOption => {
    const fix: ManagedFix = {
      kind: input.manager, port: input.port, ...(w.source !== undefined ? { source: w.source } : {}),
      ...(input.manager === 'firewalld' && input.zone !== undefined ? { zone: input.zone } : {}),
    };
    const plan = managerPlan(fix, input.deadmanSeconds ?? 60);
    const where = input.manager === 'firewalld' ? `firewalld zone ${fix.zone ?? '(the default zone)'}` : 'ufw';
    const blastRadius = [w.blast];
    if (input.manager === 'firewalld') {
      blastRadius.push('firewall-cmd --reload (after verification) also drops any other runtime-only firewalld change on the host');
      if (fix.zone === undefined) blastRadius.push('the zone could not be told from the rules: the default zone is used, and verification shows whether it is the one the client arrives in');
    } else {
      blastRadius.push('ufw has no timer: if verification fails the bot deletes the rule at once; if it cannot reach the host, the rule stays until deleted from the console');
    }
    return {
      id: w.id,
      title: `${input.manager}: allow TCP ${input.port} from ${w.who}`,
      host: input.targetHost,
      commands: [...plan.apply, ...plan.confirm].map((c) => renderOperatorCommand(c.argv)),
      rulesetAfter: '',
      effect: input.manager === 'firewalld'
        ? `${where} accepts TCP ${input.port} from ${w.who}: a timed rich rule first (removes itself unless verified), then the same rule --permanent and a reload`
        : `ufw accepts TCP ${input.port} from ${w.who}: inserted as rule 1, which ufw saves itself`,
      blastRadius,
      kind: 'firewall',
      manager: fix,
    };
  });
}
