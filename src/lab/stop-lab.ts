import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import { silentLogger, type Logger } from '../log/create-logger.ts';
import { findBinary } from './check-lab-support.ts';
import { removeEtcArtifacts } from './lab-etc-files.ts';
import {
  defaultLabRegistryDir, labStateFile, readLabStateFile, readRegisteredLabs, removeLabStateEntry, saveLabState,
  withRegistryLock, type LabState,
} from './lab-state.ts';
import { runCommand } from './run-command.ts';

export interface StopLabOptions {
  registryDir?: string;
  log?: Logger;
  /** How long to wait for killed processes to disappear. @defaultValue 5000 */
  killTimeoutMs?: number;
}

/** A lab by name (registry), by directory or state.json path, or an already-read state. */
export function findLabState(nameOrPath: string, registryDir: string = defaultLabRegistryDir): LabState {
  const registered = readRegisteredLabs(registryDir).find((l) => l.name === nameOrPath);
  if (registered) return registered;
  if (nameOrPath.includes('/') || nameOrPath.endsWith('.json')) {
    const file = nameOrPath.endsWith('.json') ? nameOrPath : labStateFile(nameOrPath);
    if (existsSync(file)) return readLabStateFile(file);
  }
  const known = readRegisteredLabs(registryDir).map((l) => l.name);
  throw new WhyBlockedError(ErrorCode.Usage,
    `no lab named "${nameOrPath}"${known.length > 0 ? `; running labs: ${known.join(', ')}` : '; no labs are running'} (see \`why-blocked lab list\`)`);
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** Recorded pids are only trusted while they still look like this lab's daemons (pids get reused). */
function isLabProcess(pid: number, dir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}

/**
 * Removes everything the state records: processes in the namespaces, the namespaces (which takes
 * their veths and bridges along), the root-side veth, /etc/netns dirs, placeholders no other lab
 * uses, the lab dir and the registry entry. Best effort throughout; problems are reported at the end.
 */
export async function stopLab(target: string | LabState, options: StopLabOptions = {}): Promise<void> {
  const registryDir = options.registryDir ?? defaultLabRegistryDir;
  const state = typeof target === 'string' ? findLabState(target, registryDir) : target;
  const log = (options.log ?? silentLogger()).child({ lab: state.name });
  const ip = findBinary('ip', process.env.PATH ?? '') ?? 'ip';
  const problems: string[] = [];

  const nsPids = await Promise.all(state.namespaces.map(async (ns) => {
    const r = await runCommand([ip, 'netns', 'pids', ns], { timeoutMs: 5000 });
    return r.code === 0 ? r.stdout.split(/\s+/).filter(Boolean).map(Number) : [];
  }));
  const victims = new Set([...nsPids.flat(), ...state.pids.filter((p) => isLabProcess(p, state.dir))]);
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') problems.push(`could not kill ${pid}: ${(err as Error).message}`);
    }
  }
  const deadline = Date.now() + (options.killTimeoutMs ?? 5000);
  while ([...victims].some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const survivors = [...victims].filter(alive);
  if (survivors.length > 0) problems.push(`processes still running: ${survivors.join(', ')}`);

  await Promise.all(state.namespaces.map(async (ns) => {
    if (!existsSync(`/run/netns/${ns}`)) return;
    const r = await runCommand([ip, 'netns', 'del', ns], { timeoutMs: 10_000 });
    if (r.code !== 0) problems.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
  }));
  if (state.rootVeth) {
    const r = await runCommand([ip, 'link', 'show', 'dev', state.rootVeth]);
    if (r.code === 0) {
      const del = await runCommand([ip, 'link', 'del', 'dev', state.rootVeth]);
      // Deleting the switch namespace already takes the pair along, possibly while we looked.
      if (del.code !== 0 && !/Cannot find device|No such device/.test(del.stderr)) problems.push(`ip link del ${state.rootVeth}: ${del.stderr.trim()}`);
    }
  }

  await withRegistryLock(registryDir, () => {
    const others = readRegisteredLabs(registryDir).filter((l) => l.name !== state.name);
    const cleanup = removeEtcArtifacts(state, others);
    problems.push(...cleanup.problems);
    for (const [path, heir] of cleanup.handedOver) {
      const other = others.find((o) => o.name === heir)!;
      if (!other.placeholders.includes(path)) other.placeholders.push(path);
      saveLabState(other, registryDir);
      log.debug({ path, heir }, 'placeholder handed over');
    }
    removeLabStateEntry(state.name, registryDir);
  });

  try {
    // Only a directory that is provably this lab's goes; --dir could point anywhere.
    const own = existsSync(labStateFile(state.dir)) && readLabStateFile(labStateFile(state.dir)).name === state.name;
    if (own) rmSync(state.dir, { recursive: true, force: true });
    else if (existsSync(state.dir) && statSync(state.dir).isDirectory()) problems.push(`kept ${state.dir}: it holds no state.json for lab ${state.name}`);
  } catch (err) {
    problems.push(`could not remove ${state.dir}: ${(err as Error).message}`);
  }

  if (problems.length > 0) {
    throw new WhyBlockedError(ErrorCode.LabFailed, `lab ${state.name} teardown incomplete: ${problems.join('; ')}`, { details: { problems } });
  }
  log.info('lab down');
}

