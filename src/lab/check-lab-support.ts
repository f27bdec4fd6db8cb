import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { LabPlan } from './plan-lab.ts';

export interface LabHostPlatform {
  platform: NodeJS.Platform;
  uid: number | undefined;
  /** PATH used to find binaries. */
  path: string;
}

export function currentPlatform(env: NodeJS.ProcessEnv = process.env): LabHostPlatform {
  return { platform: process.platform, uid: typeof process.getuid === 'function' ? process.getuid() : undefined, path: env.PATH ?? '' };
}

/** Root and Linux first: everything the lab does (netns, veth, netfilter, bind mounts) needs both. */
export function checkLabSupported(p: LabHostPlatform): void {
  if (p.platform !== 'linux') {
    throw new WhyBlockedError(ErrorCode.LabUnsupported,
      `the lab needs Linux network namespaces; this is ${p.platform}. Run it on a Linux machine or VM as root.`);
  }
  if (p.uid !== 0) {
    throw new WhyBlockedError(ErrorCode.LabUnsupported,
      'the lab creates network namespaces, veth pairs and firewall rules, which needs root. Run it as root (e.g. `sudo why-blocked lab up …`).');
  }
}

export function findBinary(name: string, path: string): string | undefined {
  if (name.startsWith('/')) return isExecutable(name) ? name : undefined;
  // sbin is not on every non-login root PATH, but that is where iproute2/iptables/sshd live.
  const dirs = [...path.split(delimiter).filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  return dirs.map((d) => join(d, name)).find(isExecutable);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export const sshdPath = '/usr/sbin/sshd';

/** The binaries a plan needs, resolved to absolute paths; missing ones fail together in one error. */
export function resolveLabBinaries(plan: LabPlan, path: string): Record<string, string> {
  const needed = new Set(['ip', 'ssh-keygen', 'tcpdump', 'sysctl', sshdPath]);
  for (const h of plan.hosts) {
    const fw = h.firewall;
    if (!fw) continue;
    if (fw.backend === 'nft') needed.add('nft');
    else {
      needed.add(`${fw.backend}-restore`);
      if (fw.rules6 !== undefined) needed.add(`ip6${fw.backend.slice(2)}-restore`);
      if (fw.ipsets !== undefined) needed.add('ipset');
    }
    for (const l of h.listeners) if (l.kind === 'inetd') needed.add(l.program);
  }
  if (plan.hosts.some((h) => h.login)) for (const b of ['nsenter', 'mount', 'visudo', 'sudo']) needed.add(b);
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of needed) {
    const file = findBinary(name, path);
    if (file) found[name] = file;
    else missing.push(name);
  }
  if (missing.length > 0) {
    throw new WhyBlockedError(ErrorCode.LabUnsupported,
      `the lab needs ${missing.join(', ')}, not found on this machine. Run scripts/install-system-deps (as root) to install them.`,
      { details: { missing } });
  }
  return found;
}
