import { lstatSync, mkdirSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { LabPlan } from './plan-lab.ts';
import type { LabState } from './lab-state.ts';

export interface EtcRecorder {
  etcNetnsDir(dir: string): void;
  pathUsed(path: string): void;
  placeholder(path: string): void;
}

function exists(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Writes each host's files to <etc>/netns/<ns>/. `ip netns exec` bind-mounts every top-level entry
 * there over <etc>/<entry>, but only when <etc>/<entry> exists, so missing ones get an empty
 * placeholder (a directory for `sysconfig/…`, an empty file for `hosts.allow`). Call this under
 * the registry lock: placeholders are shared between concurrent labs.
 */
export function installEtcFiles(plan: LabPlan, rec: EtcRecorder, etcRoot = '/etc'): void {
  const hosts = plan.hosts.filter((h) => Object.keys(h.etcFiles).length > 0);
  if (hosts.length === 0) return;
  const netnsRoot = join(etcRoot, 'netns');
  rec.pathUsed(netnsRoot);
  if (!exists(netnsRoot)) {
    mkdirSync(netnsRoot, { mode: 0o755 });
    rec.placeholder(netnsRoot);
  }
  for (const h of hosts) {
    const dir = join(netnsRoot, h.ns);
    rec.etcNetnsDir(dir);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (const [rel, text] of Object.entries(h.etcFiles)) {
      const file = join(dir, rel);
      mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
      writeFileSync(file, text, { mode: 0o644 });
    }
    const tops = new Map<string, 'dir' | 'file'>();
    for (const rel of Object.keys(h.etcFiles)) {
      const [top, ...rest] = rel.split('/');
      tops.set(top!, rest.length > 0 ? 'dir' : 'file');
    }
    for (const [top, kind] of tops) {
      const target = join(etcRoot, top);
      rec.pathUsed(target);
      const st = exists(target);
      if (st) {
        if (st.isDirectory() !== (kind === 'dir')) {
          throw new WhyBlockedError(ErrorCode.LabFailed,
            `host "${h.name}" needs ${target} to be a ${kind === 'dir' ? 'directory' : 'file'} for the /etc/netns bind mount, but it is not`);
        }
        continue;
      }
      if (kind === 'dir') mkdirSync(target, { mode: 0o755 });
      else writeFileSync(target, '', { flag: 'wx', mode: 0o644 });
      rec.placeholder(target);
    }
  }
}

export interface EtcCleanup {
  /** Placeholders kept because another lab still relies on them: path → that lab's name. */
  handedOver: Map<string, string>;
  problems: string[];
}

/**
 * Removes the lab's /etc/netns dirs, and its placeholders when empty and no other lab relies on
 * them; those are handed over to the other lab instead. Call under the registry lock.
 */
export function removeEtcArtifacts(state: LabState, others: LabState[], etcRoot = '/etc'): EtcCleanup {
  const result: EtcCleanup = { handedOver: new Map(), problems: [] };
  const netnsPrefix = `${join(etcRoot, 'netns')}/`;
  for (const dir of state.etcNetnsDirs) {
    if (!dir.startsWith(netnsPrefix) || dir.slice(netnsPrefix.length).includes('/')) {
      result.problems.push(`refused to remove ${dir}: not an ${netnsPrefix}<ns> directory`);
      continue;
    }
    rmSync(dir, { recursive: true, force: true });
  }
  // Deepest first, so /etc/netns goes after anything below it.
  for (const path of [...state.placeholders].sort((a, b) => b.length - a.length)) {
    const user = others.find((o) => o.name !== state.name && o.etcPathsUsed.includes(path));
    if (user) {
      result.handedOver.set(path, user.name);
      continue;
    }
    try {
      const st = statSync(path);
      if (st.isDirectory()) rmdirSync(path);
      else if (st.size === 0) unlinkSync(path);
      else result.problems.push(`kept ${path}: something wrote to it since the lab created it`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') result.problems.push(`kept ${path}: no longer empty`);
      else if (code !== 'ENOENT') result.problems.push(`could not remove ${path}: ${(err as Error).message}`);
    }
  }
  return result;
}
