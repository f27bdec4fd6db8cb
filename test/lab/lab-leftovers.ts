import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Everything a lab named `name` (dir `dir`) could have left on the machine, as readable strings. */
export function labLeftovers(name: string, dir: string, registryDir = '/run/why-blocked/labs'): string[] {
  const found: string[] = [];
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of netns.split('\n')) if (line.startsWith(`${name}-`)) found.push(`netns ${line.split(' ')[0]}`);
  const links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[];
  for (const l of links) if (l.ifname.startsWith(name)) found.push(`link ${l.ifname}`);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(dir) || cmd.includes(`${name}-`)) found.push(`process ${pid}: ${cmd.replace(/\0/g, ' ').slice(0, 120)}`);
    } catch { /* exited */ }
  }
  if (existsSync('/etc/netns')) {
    for (const e of readdirSync('/etc/netns')) if (e.startsWith(`${name}-`)) found.push(`/etc/netns/${e}`);
  }
  if (existsSync(join(registryDir, `${name}.json`))) found.push(`registry entry ${name}`);
  if (existsSync(dir)) found.push(`lab dir ${dir}`);
  return found;
}

const watchedEtc = ['/etc/netns', '/etc/sysconfig', '/etc/hosts.allow', '/etc/hosts.deny'];

/** Which of the /etc entries the seed lab may create placeholders for exist right now. */
export function etcSnapshot(): Set<string> {
  return new Set(watchedEtc.filter((p) => existsSync(p)));
}

/**
 * Placeholders that appeared since `before` and that no running lab still relies on (a lab run
 * concurrently by another suite legitimately keeps a shared placeholder alive).
 */
export function etcLeftovers(before: Set<string>, registryDir = '/run/why-blocked/labs'): string[] {
  const used = new Set<string>();
  if (existsSync(registryDir)) {
    for (const f of readdirSync(registryDir).filter((n) => n.endsWith('.json'))) {
      try {
        for (const p of (JSON.parse(readFileSync(join(registryDir, f), 'utf8')) as { etcPathsUsed?: string[] }).etcPathsUsed ?? []) used.add(p);
      } catch { /* removed meanwhile */ }
    }
  }
  return watchedEtc.filter((p) => existsSync(p) && !before.has(p) && !used.has(p));
}
