import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, WhyBlockedError } from '../errors.ts';

/**
 * What a lab created, written as it goes so that `lab down` in another process (or after a crash
 * half-way through `up`) can remove exactly that and nothing else.
 */
export interface LabState {
  version: 1;
  name: string;
  scenario: string;
  createdAt: string;
  status: 'starting' | 'up';
  /** Absolute lab directory (inventory, keys, logs). */
  dir: string;
  /** The lab's /24. */
  subnet: string;
  /** Every namespace, recorded before it is created. */
  namespaces: string[];
  /** Root-side veth, recorded before it is created. */
  rootVeth?: string;
  rootAddress?: string;
  hosts: Record<string, { ns: string; addresses: string[]; aliases: string[] }>;
  /** Daemons started in the namespaces (sshd, listeners). */
  pids: number[];
  /** `/etc/netns/<ns>` directories. */
  etcNetnsDirs: string[];
  /** Paths under /etc that bind mounts rely on; another lab's placeholder is kept while listed here. */
  etcPathsUsed: string[];
  /** Paths under /etc this lab created because they were missing (removed on teardown when unused and empty). */
  placeholders: string[];
  inventoryFile?: string;
  knownHostsFile?: string;
  privateKeyFile?: string;
}

/** Registry of live labs on this machine, on tmpfs like the namespaces themselves. */
export const defaultLabRegistryDir = '/run/why-blocked/labs';

function atomicWrite(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

export function labStateFile(dir: string): string {
  return join(dir, 'state.json');
}

/** Writes the registry entry, and the lab dir copy once the dir exists. */
export function saveLabState(state: LabState, registryDir: string): void {
  mkdirSync(registryDir, { recursive: true, mode: 0o700 });
  const text = `${JSON.stringify(state, null, 2)}\n`;
  atomicWrite(join(registryDir, `${state.name}.json`), text);
  try {
    atomicWrite(labStateFile(state.dir), text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export function removeLabStateEntry(name: string, registryDir: string): void {
  try {
    unlinkSync(join(registryDir, `${name}.json`));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function isLabState(value: unknown): value is LabState {
  const v = value as Partial<LabState> | null;
  return typeof v === 'object' && v !== null && v.version === 1 && typeof v.name === 'string'
    && Array.isArray(v.namespaces) && Array.isArray(v.pids) && typeof v.dir === 'string';
}

export function readLabStateFile(file: string): LabState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new WhyBlockedError(ErrorCode.LabFailed, `cannot read lab state ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (!isLabState(parsed)) throw new WhyBlockedError(ErrorCode.LabFailed, `${file} is not a why-blocked lab state file`);
  return parsed;
}

export function readRegisteredLabs(registryDir: string): LabState[] {
  let names: string[];
  try {
    names = readdirSync(registryDir).filter((n) => n.endsWith('.json'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.flatMap((n) => {
    try {
      return [readLabStateFile(join(registryDir, n))];
    } catch {
      return [];
    }
  });
}

const lockStaleMs = 30_000;

/**
 * Serialises subnet choice and /etc placeholder bookkeeping between concurrent `lab up`/`down`
 * processes. mkdir is atomic; a lock older than lockStaleMs is from a crashed process.
 */
export async function withRegistryLock<T>(registryDir: string, fn: () => Promise<T> | T, timeoutMs = 20_000): Promise<T> {
  mkdirSync(registryDir, { recursive: true, mode: 0o700 });
  const lock = join(registryDir, '.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(lock).mtimeMs > lockStaleMs) rmdirSync(lock);
      } catch { /* released meanwhile */ }
      if (Date.now() > deadline) {
        throw new WhyBlockedError(ErrorCode.LabFailed, `the lab registry lock ${lock} is held too long; if no lab command is running, remove it`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    try { rmdirSync(lock); } catch { /* already gone */ }
  }
}

/** One lab's registry entry, or undefined when it is not registered (any more). */
export function readRegisteredLab(name: string, registryDir: string): LabState | undefined {
  const file = join(registryDir, `${name}.json`);
  if (!existsSync(file)) return undefined;
  try {
    return readLabStateFile(file);
  } catch {
    return undefined;
  }
}
