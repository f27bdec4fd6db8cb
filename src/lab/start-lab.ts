import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ErrorCode, WhyBlockedError, asWhyBlockedError } from '../errors.ts';
import { silentLogger, type Logger } from '../log/create-logger.ts';
import { checkLabSupported, currentPlatform, findBinary, resolveLabBinaries, sshdPath, type LabHostPlatform } from './check-lab-support.ts';
import { createLabNetwork } from './create-lab-network.ts';
import { defaultLabCidr, parseLabCidr, pickLabSubnet, type Ipv4Cidr } from './lab-addressing.ts';
import { installEtcFiles } from './lab-etc-files.ts';
import { listenerArgv } from './lab-listener-script.ts';
import { addLoginEtcFiles, checkLoginSudoers, loginSshdConfig, mountLoginOverlay } from './lab-login.ts';
import { startLabDaemon } from './start-lab-daemon.ts';
import type { LabScenario } from './lab-scenario.ts';
import { generateKey, renderInventory, renderKnownHosts, renderSshdConfig, writePrivateFile } from './lab-ssh-files.ts';
import { defaultLabRegistryDir, readRegisteredLab, readRegisteredLabs, saveLabState, withRegistryLock, type LabState } from './lab-state.ts';
import { planLab, type PlannedHost } from './plan-lab.ts';
import { readOccupiedRanges } from './read-occupied-ranges.ts';
import { settleAll } from './settle-all.ts';
import { runChecked, runCommand, type RunOptions, type RunResult } from './run-command.ts';
import { getLabScenario, labScenarios } from './scenario-registry.ts';
import { findLabState, stopLab } from './stop-lab.ts';

export type LabStep = 'network' | 'etc' | 'keys' | 'firewall' | 'services' | 'ready';

export interface StartLabOptions {
  log?: Logger;
  /** The lab's own directory; must not exist or be empty. @defaultValue `<labsRoot>/<lab name>` */
  dir?: string;
  /** Parent of lab directories. @defaultValue env WHY_BLOCKED_LAB_DIR, else `./var/lab` (against `cwd`) */
  labsRoot?: string;
  /** Private IPv4 range to take a /24 from; a /24 is used as is. @defaultValue env WHY_BLOCKED_LAB_CIDR, else 10.240.0.0/16 */
  cidr?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Aborting tears down whatever was created and rejects. */
  signal?: AbortSignal;
  /** Called after each step; a throw here fails `up` like a real failure would (tests inject faults this way). */
  onStep?: (step: LabStep, lab: { name: string; dir: string }) => void | Promise<void>;
  /** Per daemon. @defaultValue 10000 */
  readyTimeoutMs?: number;
  registryDir?: string;
  scenarios?: ReadonlyMap<string, LabScenario>;
  platform?: LabHostPlatform;
}

export interface LabHost {
  name: string;
  ns: string;
  /** Primary (SSH) address first. */
  addresses: string[];
  aliases: string[];
}

export type LabExecOptions = RunOptions;

export interface Lab {
  name: string;
  scenario: string;
  dir: string;
  subnet: string;
  /** The root namespace's address on the management segment. */
  rootAddress: string;
  inventoryFile: string;
  knownHostsFile: string;
  privateKeyFile: string;
  stateFile: string;
  hosts: Record<string, LabHost>;
  /** Runs argv inside the host's namespace (with its /etc/netns files); non-zero exits are results. */
  exec(host: string, argv: string[], options?: LabExecOptions): Promise<RunResult>;
  /** Starts argv inside the host's namespace and returns the child (e.g. a bounded tcpdump). */
  spawn(host: string, argv: string[]): ChildProcess;
  stop(): Promise<void>;
}

/**
 * Each host gets its own /etc/passwd whose root home is inside the lab dir: separate machines have
 * separate homes, and the operator's ~/.bashrc (which bash reads for every SSH command) stays out
 * of lab sessions and their timings.
 */
function giveRootOwnHome(hosts: PlannedHost[], hostDir: (h: string) => string): void {
  const passwd = readFileSync('/etc/passwd', 'utf8');
  for (const h of hosts) {
    if (!h.sshd || h.etcFiles.passwd !== undefined) continue;
    const home = join(hostDir(h.name), 'root-home');
    mkdirSync(home, { recursive: true, mode: 0o700 });
    h.etcFiles.passwd = passwd.split('\n').map((line) => {
      const f = line.split(':');
      return f[0] === 'root' && f.length === 7 ? [...f.slice(0, 5), home, f[6]].join(':') : line;
    }).join('\n');
  }
}

/**
 * Every host resolves every lab host by name and address from /etc/hosts, like a fleet with working
 * DNS; without it reverse lookups (tcpd, sshd logging) wait on a resolver the lab cannot reach.
 */
function addLabHostsFile(hosts: PlannedHost[]): void {
  let base = '';
  try {
    base = readFileSync('/etc/hosts', 'utf8');
  } catch { /* start from an empty file */ }
  const entries = hosts.flatMap((h) => h.addresses.map((a) => `${a}\t${[h.name, ...h.aliases].join(' ')}`));
  const text = `${base.replace(/\n?$/, '\n')}# why-blocked lab hosts\n${entries.join('\n')}\n`;
  for (const h of hosts) if (h.etcFiles.hosts === undefined) h.etcFiles.hosts = text;
}

function interrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new WhyBlockedError(ErrorCode.LabFailed, `lab up interrupted (${String((signal.reason as Error | undefined)?.message ?? 'aborted')}); everything created was removed`);
}

function newLabName(taken: Set<string>): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  for (;;) {
    const name = `wb${[...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('')}`;
    if (![...taken].some((t) => t === name || t.startsWith(`${name}-`))) return name;
  }
}

function checkDirUsable(dir: string): void {
  try {
    if (readdirSync(dir).length > 0) {
      throw new WhyBlockedError(ErrorCode.Usage, `lab directory ${dir} exists and is not empty; choose another --dir or remove it`);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new WhyBlockedError(ErrorCode.Usage, `lab directory ${dir} is a file; choose another --dir`);
    throw err;
  }
}

export function labHandle(state: LabState, ip: string, registryDir: string, log: Logger): Lab {
  const hosts: Record<string, LabHost> = Object.fromEntries(Object.entries(state.hosts).map(([name, h]) => [name, { name, ...h }]));
  const nsOf = (host: string): string => {
    const h = hosts[host];
    if (!h) throw new WhyBlockedError(ErrorCode.UnknownHost, `lab ${state.name} has no host "${host}"; it has ${Object.keys(hosts).join(', ')}`);
    return h.ns;
  };
  return {
    name: state.name,
    scenario: state.scenario,
    dir: state.dir,
    subnet: state.subnet,
    rootAddress: state.rootAddress ?? '',
    inventoryFile: state.inventoryFile ?? join(state.dir, 'inventory.yml'),
    knownHostsFile: state.knownHostsFile ?? join(state.dir, 'known_hosts'),
    privateKeyFile: state.privateKeyFile ?? join(state.dir, 'id_ed25519'),
    stateFile: join(state.dir, 'state.json'),
    hosts,
    exec: (host, argv, options = {}) => runCommand([ip, 'netns', 'exec', nsOf(host), ...argv], options),
    spawn: (host, argv) => spawn(ip, ['netns', 'exec', nsOf(host), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] }),
    // The registry copy wins: a lab stopping meanwhile may have handed placeholders over to this one.
    stop: () => stopLab(readRegisteredLab(state.name, registryDir) ?? state, { registryDir, log }),
  };
}

/** A handle on a lab started elsewhere (another process, `lab up`), by name or lab directory. */
export function openLab(nameOrDir: string, options: { registryDir?: string; log?: Logger; env?: NodeJS.ProcessEnv } = {}): Lab {
  const registryDir = options.registryDir ?? defaultLabRegistryDir;
  const state = findLabState(nameOrDir, registryDir);
  const ip = findBinary('ip', (options.env ?? process.env).PATH ?? '') ?? 'ip';
  return labHandle(state, ip, registryDir, options.log ?? silentLogger());
}

/**
 * Builds a scenario's hosts as network namespaces with real sshd, listeners, firewalls and /etc
 * files, and writes inventory.yml, known_hosts and a key so the product reaches them over SSH like
 * a real fleet. Any failure (or abort) removes everything created so far before rejecting.
 */
export async function startLab(scenarioOrName: string | LabScenario, options: StartLabOptions = {}): Promise<Lab> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const registryDir = options.registryDir ?? defaultLabRegistryDir;
  const signal = options.signal;
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const baseLog = options.log ?? silentLogger();

  checkLabSupported(options.platform ?? currentPlatform(env));
  const scenario = typeof scenarioOrName === 'string' ? getLabScenario(scenarioOrName, options.scenarios ?? labScenarios) : scenarioOrName;
  const cidrSource = options.cidr !== undefined ? '--cidr' : env.WHY_BLOCKED_LAB_CIDR ? 'WHY_BLOCKED_LAB_CIDR' : 'the default lab range';
  const range = parseLabCidr(options.cidr ?? env.WHY_BLOCKED_LAB_CIDR ?? defaultLabCidr, cidrSource);
  if (options.dir !== undefined) checkDirUsable(resolve(cwd, options.dir));
  // Validates the scenario and finds its binaries before anything exists.
  const bins = resolveLabBinaries(planLab(scenario, 'wbcheck', { base: range.base, prefix: 24 }), env.PATH ?? '');
  const ip = bins.ip!;

  const { state, plan } = await withRegistryLock(registryDir, async () => {
    const labs = readRegisteredLabs(registryDir);
    const occupied = [
      ...await readOccupiedRanges(ip),
      ...labs.map((l) => ({ cidr: parseLabCidr(l.subnet, 'lab'), what: `lab ${l.name}` })),
    ];
    const subnet: Ipv4Cidr = pickLabSubnet(range, occupied, cidrSource);
    const existingNs = (await runChecked([ip, 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
    const name = newLabName(new Set([...existingNs, ...labs.map((l) => l.name)]));
    const planned = planLab(scenario, name, subnet);
    const dir = resolve(cwd, options.dir ?? join(options.labsRoot ?? env.WHY_BLOCKED_LAB_DIR ?? './var/lab', name));
    const initial: LabState = {
      version: 1, name, scenario: scenario.name, createdAt: new Date().toISOString(), status: 'starting', dir,
      subnet: planned.subnet, namespaces: [], rootAddress: planned.rootAddress,
      hosts: Object.fromEntries(planned.hosts.map((h) => [h.name, { ns: h.ns, addresses: h.addresses, aliases: h.aliases }])),
      pids: [], etcNetnsDirs: [], etcPathsUsed: [], placeholders: [],
    };
    saveLabState(initial, registryDir);
    return { state: initial, plan: planned };
  });

  const log = baseLog.child({ lab: state.name });
  const save = (): void => {
    // Keep placeholders another lab handed over to us while we were starting.
    const registered = readRegisteredLab(state.name, registryDir);
    for (const p of registered?.placeholders ?? []) if (!state.placeholders.includes(p)) state.placeholders.push(p);
    saveLabState(state, registryDir);
  };
  const step = async (s: LabStep): Promise<void> => {
    log.debug({ step: s }, 'lab step done');
    interrupted(signal);
    await options.onStep?.(s, { name: state.name, dir: state.dir });
  };
  const opt = signal ? { signal } : {};

  try {
    mkdirSync(state.dir, { recursive: true, mode: 0o700 });
    save();
    const hostDir = (h: string): string => join(state.dir, 'hosts', h);
    for (const h of plan.hosts) mkdirSync(hostDir(h.name), { recursive: true, mode: 0o700 });
    giveRootOwnHome(plan.hosts, hostDir);
    addLabHostsFile(plan.hosts);
    if (plan.hosts.some((h) => h.login)) {
      const realGroup = readFileSync('/etc/group', 'utf8');
      const realPasswd = readFileSync('/etc/passwd', 'utf8');
      for (const h of plan.hosts) {
        await checkLoginSudoers(h, bins.visudo!, hostDir(h.name));
        addLoginEtcFiles(h, realPasswd, realGroup);
      }
    }
    const sshHosts = plan.hosts.filter((h) => h.sshd);
    const privateKeyFile = join(state.dir, 'id_ed25519');

    const networkDone = createLabNetwork({
      plan, ip, sysctl: bins.sysctl!, ...opt,
      record: (kind, n) => {
        if (kind === 'namespace') state.namespaces.push(n);
        else state.rootVeth = n;
        save();
      },
    });
    const keysDone = settleAll([
      generateKey(bins['ssh-keygen']!, privateKeyFile, `why-blocked-lab-${state.name}`, signal),
      ...sshHosts.map((h) => generateKey(bins['ssh-keygen']!, join(hostDir(h.name), 'ssh_host_ed25519_key'), `${h.name}@${state.name}`, signal)),
    ]);
    await settleAll<unknown>([networkDone, keysDone]);
    const keys = await keysDone;
    await step('network');
    await step('keys');

    await withRegistryLock(registryDir, () => installEtcFiles(plan, {
      etcNetnsDir: (d) => { state.etcNetnsDirs.push(d); save(); },
      pathUsed: (p) => { if (!state.etcPathsUsed.includes(p)) state.etcPathsUsed.push(p); save(); },
      placeholder: (p) => { state.placeholders.push(p); save(); },
    }));
    await step('etc');

    await settleAll(plan.hosts.flatMap((h) => {
      const fw = h.firewall;
      if (!fw) return [];
      const rulesFile = join(hostDir(h.name), fw.backend === 'nft' ? 'ruleset.nft' : 'rules.v4');
      writeFileSync(rulesFile, fw.rules, { mode: 0o600 });
      let setsLoaded: Promise<unknown> = Promise.resolve();
      if (fw.ipsets !== undefined) {
        const ipsetFile = join(hostDir(h.name), 'ipsets.restore');
        writeFileSync(ipsetFile, fw.ipsets, { mode: 0o600 });
        setsLoaded = runChecked([ip, 'netns', 'exec', h.ns, bins.ipset!, 'restore', '-file', ipsetFile], opt);
      }
      const loads = [setsLoaded.then(() => runChecked([ip, 'netns', 'exec', h.ns, ...(fw.backend === 'nft' ? [bins.nft!, '-f'] : [bins[`${fw.backend}-restore`]!]), rulesFile], opt))];
      if (fw.rules6 !== undefined && fw.backend !== 'nft') {
        const rules6File = join(hostDir(h.name), 'rules.v6');
        writeFileSync(rules6File, fw.rules6, { mode: 0o600 });
        loads.push(setsLoaded.then(() => runChecked([ip, 'netns', 'exec', h.ns, bins[`ip6${fw.backend.slice(2)}-restore`]!, rules6File], opt)));
      }
      return loads;
    }));
    await step('firewall');

    const authorizedKeys = join(state.dir, 'authorized_keys');
    writePrivateFile(authorizedKeys, `${keys[0]}\n`);
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    await settleAll(plan.hosts.flatMap((h) => {
      const d = hostDir(h.name);
      const daemons: Promise<number>[] = [];
      if (h.sshd) {
        const config = join(d, 'sshd_config');
        writePrivateFile(config, renderSshdConfig({ hostKey: join(d, 'ssh_host_ed25519_key'), pidFile: join(d, 'sshd.pid'), authorizedKeys }) + loginSshdConfig(h));
        const sshd = startDaemonFor(h.ns, [sshdPath, '-D', '-e', '-f', config], join(d, 'sshd.log'), join(d, 'sshd.pid'));
        daemons.push(h.login ? sshd.then(async (pid) => {
          await mountLoginOverlay(h, { nsenter: bins.nsenter!, mount: bins.mount!, hostDir: d, sshdPid: pid, publicKey: keys[0]! });
          return pid;
        }) : sshd);
      }
      if (h.listeners.length > 0) {
        const ready = join(d, 'listeners.ready');
        daemons.push(startDaemonFor(h.ns, listenerArgv(process.execPath, h.listeners, ready), join(d, 'listeners.log'), ready));
      }
      return daemons;
    }));
    await step('services');

    const inventoryFile = join(state.dir, 'inventory.yml');
    const knownHostsFile = join(state.dir, 'known_hosts');
    writeFileSync(knownHostsFile, renderKnownHosts(sshHosts.map((h, i) => ({ host: h, publicKey: keys[i + 1]! }))), { mode: 0o644 });
    writeFileSync(inventoryFile, renderInventory(state.name, scenario.name, sshHosts), { mode: 0o644 });
    Object.assign(state, { status: 'up', inventoryFile, knownHostsFile, privateKeyFile });
    save();
    await step('ready');
    log.info({ dir: state.dir, subnet: state.subnet }, 'lab up');
    return labHandle(state, ip, registryDir, baseLog);
  } catch (err) {
    // A step killed by the abort fails with its own error; the abort is the real reason.
    const failure = signal?.aborted
      ? new WhyBlockedError(ErrorCode.LabFailed, `lab up interrupted (${String((signal.reason as Error | undefined)?.message ?? 'aborted')}); everything created was removed`)
      : asWhyBlockedError(err);
    log.warn({ err: failure }, 'lab up failed; tearing down');
    try {
      await stopLab(readRegisteredLab(state.name, registryDir) ?? state, { registryDir, log: baseLog });
    } catch (cleanupErr) {
      throw new WhyBlockedError(ErrorCode.LabFailed,
        `${failure.message}. Teardown was incomplete too: ${(cleanupErr as Error).message}`, { cause: err });
    }
    if (failure.code === ErrorCode.Unknown) throw new WhyBlockedError(ErrorCode.LabFailed, `lab up failed: ${failure.message}`, { cause: err });
    throw failure;
  }

  function startDaemonFor(ns: string, argv: string[], logFile: string, readyFile: string): Promise<number> {
    return startLabDaemon({ ip, ns, argv, logFile, readyFile, readyTimeoutMs, ...opt, onPid: (pid) => { state.pids.push(pid); save(); } });
  }
}
