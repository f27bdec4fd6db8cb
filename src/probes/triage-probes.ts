import { setMaxListeners } from 'node:events';
import { isIP } from 'node:net';
import { ErrorCode, WhyBlockedError, asWhyBlockedError } from '../errors.ts';
import type { RemoteCommand } from '../remote/remote-command.ts';
import type { SynthesizeFixes } from '../triage/assemble-report.ts';
import type { FirewallData, ListenerData, VantageInfo } from '../triage/evidence-types.ts';
import type { EvidenceItem, ProbeName } from '../triage/report-types.ts';
import { runCaptureSession } from './capture-session.ts';
import type { CommandOutput } from './command-output.ts';
import { buildConnectCommand, parseConnectOutput } from './connect-probe.ts';
import {
  addIpsetOutput, analyzeFirewall, buildFirewallCommands, buildIpsetSaveCommand, buildRouteGetCommand, dumpsUseIpsets, firewallCommandKeys, flowsFor,
  parseFirewallOutputs, parseRouteGet,
  type FirewallCommandKey,
} from './firewall-probe.ts';
import { buildListenerCommand, parseListenerOutput } from './listener-probe.ts';
import { buildLocalConnectCommands, parseLocalConnectOutputs } from './local-connect-probe.ts';
import { buildPersistenceCommands, parsePersistenceOutputs, type PersistenceCommandKey } from './persistence-probe.ts';
import type { ExplainFlow, RunCommand, StartStreaming } from './ports.ts';
import { familyOf, requireIp, requirePort } from './probe-args.ts';
import { buildReachCommand, parseReachOutput } from './reach-probe.ts';
import { buildExeCommand, buildLibwrapScanCommand, buildWrappersFilesCommand, parseExeOutput, parseTcpWrappersOutputs } from './tcp-wrappers-probe.ts';
import { connectFromWorker, workerConnectEvidence } from './worker-connect.ts';

export interface TriageTarget {
  /** Inventory name, as the report shows it. */
  name: string;
  address: string;
  run: RunCommand;
  /** Streams tcpdump on the target; without it there is no capture. */
  startStreaming?: StartStreaming;
  /** false when the login cannot sudo: ss runs without -p, root-only probes are skipped. @defaultValue true */
  canSudo?: boolean;
}

export interface TriageVantage { name: string; run: RunCommand }

export interface TriageProbeDeps {
  target: TriageTarget;
  /** An inventory host to test from; absent = the worker itself. */
  vantage?: TriageVantage;
  /** Commands on the worker (ping, ip route get) when the worker is the vantage. */
  runLocal: RunCommand;
  explain?: ExplainFlow;
  synthesizeFixes?: SynthesizeFixes;
  now: () => number;
  /** @defaultValue 3000 */
  connectTimeoutMs?: number;
  /** See CaptureSessionOptions.stopConnectAfterAnswerMs; off when absent. */
  stopConnectAfterAnswerMs?: number;
  signal?: AbortSignal;
}

export interface TriageProbeRequest {
  port: number;
  /** Inventory host name of the vantage, or an IP literal (simulation and capture filter only). */
  from?: string;
}

export interface TriageProbes {
  /** Resolves with evidence (a failed check is ok: false); rejects only when the probe could not run at all. */
  run(name: ProbeName): Promise<EvidenceItem>;
  /** The capture, with the connect it triggered (the live test as one step). */
  runLiveTest(): Promise<EvidenceItem[]>;
  /**
   * Settles once the live test has asked for its channels (or will not capture). Starting the other
   * probes after it keeps the capture, which the connect waits on, from queueing behind rule dumps.
   */
  liveTestArmed: Promise<void>;
}

type Outcome = { out: CommandOutput } | { error: unknown };

function couldNotRun(probe: ProbeName, err: unknown): never {
  const e = asWhyBlockedError(err);
  throw new WhyBlockedError(e.code === ErrorCode.Unknown ? ErrorCode.CommandFailed : e.code, `${probe}: ${e.message}`, { cause: err, details: { probe } });
}

/**
 * Every probe of a triage for one request, runnable alone (one queue job per probe) or together
 * (runTriage). Shared steps (the client address, the listener, the firewall dump) run once per
 * instance and are reused by the probes that need them.
 */
export function createTriageProbes(request: TriageProbeRequest, deps: TriageProbeDeps): TriageProbes {
  const port = requirePort(request.port);
  const target = deps.target;
  const targetIp = requireIp(target.address, 'target address');
  const family = familyOf(targetIp);
  const fromIp = request.from !== undefined && deps.vantage === undefined ? requireIp(request.from, '--from address') : undefined;
  const connectTimeoutMs = deps.connectTimeoutMs ?? 3000;
  const canSudo = target.canSudo ?? true;
  const signal = deps.signal;
  if (signal) setMaxListeners(100, signal);

  const attempt = async (run: RunCommand, cmd: RemoteCommand, stop: AbortSignal | undefined = signal, urgent = false): Promise<Outcome> => {
    try {
      return { out: await run(cmd, { ...(stop ? { signal: stop } : {}), ...(urgent ? { urgent } : {}) }) };
    } catch (error) {
      return { error };
    }
  };
  const onTarget = (cmd: RemoteCommand): Promise<Outcome> => attempt(target.run, cmd);
  /** For a probe's follow-up step (it already waited once): it must not queue behind other probes' first steps. */
  const onTargetUrgently = (cmd: RemoteCommand): Promise<Outcome> => attempt(target.run, cmd, signal, true);
  const onVantage = (cmd: RemoteCommand): Promise<Outcome> => attempt(deps.vantage ? deps.vantage.run : deps.runLocal, cmd);
  const outOf = (o: Outcome): CommandOutput | undefined => ('out' in o ? o.out : undefined);
  const once = <T>(fn: () => Promise<T>): (() => Promise<T>) => {
    let p: Promise<T> | undefined;
    return () => (p ??= fn());
  };

  // Who the target sees as the client: the vantage's source address toward the target.
  const clientAddress = once(async (): Promise<string | undefined> => {
    const out = outOf(await onVantage(buildRouteGetCommand({ address: targetIp })));
    return out ? parseRouteGet(out).prefsrc : undefined;
  });
  const vantageInfo = async (): Promise<VantageInfo> => {
    const seen = await clientAddress();
    return deps.vantage
      ? { kind: 'inventory-host', name: deps.vantage.name, ...(seen ? { address: seen } : {}) }
      : { kind: 'worker', ...(seen ? { address: seen } : {}) };
  };

  const connect = async (early?: AbortSignal): Promise<EvidenceItem> => {
    const vantage = await vantageInfo();
    const stop = early && signal ? AbortSignal.any([early, signal]) : early ?? signal;
    if (!deps.vantage) {
      const r = await connectFromWorker({ address: targetIp, port, connectTimeoutMs, holdMs: 300, ...(stop ? { signal: stop } : {}) });
      return workerConnectEvidence(r, { target: targetIp, port, vantage });
    }
    const o = await attempt(deps.vantage.run, buildConnectCommand({ address: targetIp, port, connectTimeoutMs, holdMs: 300 }), stop);
    if ('error' in o && early?.aborted) {
      return { probe: 'connect', ok: false, summary: 'connect stopped early', raw: [], durationMs: 0, data: { target: targetIp, port, vantage, outcome: 'error', errno: 'ECANCELED' } };
    }
    if ('error' in o) couldNotRun('connect', o.error);
    return parseConnectOutput(o.out, { target: targetIp, port, vantage, connectTimeoutMs });
  };

  const reach = async (): Promise<EvidenceItem> => {
    const o = await onVantage(buildReachCommand({ address: targetIp, count: 3, waitS: 1 }));
    if ('error' in o) couldNotRun('reach', o.error);
    return parseReachOutput(o.out, targetIp);
  };

  const listener = once(async (): Promise<EvidenceItem> => {
    const o = await onTarget(buildListenerCommand({ withProcesses: canSudo }));
    if ('error' in o) couldNotRun('listener', o.error);
    return parseListenerOutput(o.out, { port, targetAddress: targetIp, withProcesses: canSudo });
  });

  const localConnect = async (): Promise<EvidenceItem> => {
    const cmds = buildLocalConnectCommands({ address: targetIp, port, connectTimeoutMs: Math.min(2000, connectTimeoutMs) });
    const [a, l] = await Promise.all([onTarget(cmds.viaAddress), onTarget(cmds.viaLoopback)]);
    if ('error' in a && 'error' in l) couldNotRun('local-connect', a.error);
    return parseLocalConnectOutputs({ ...(outOf(a) ? { viaAddress: outOf(a)! } : {}), ...(outOf(l) ? { viaLoopback: outOf(l)! } : {}) }, { address: targetIp, port, host: target.name });
  };

  const firewall = once(async (): Promise<EvidenceItem> => {
    const started = deps.now();
    const cmds = buildFirewallCommands();
    // The unsuffixed save tools are only asked when neither suffixed one exists (RHEL 7 era hosts):
    // elsewhere they print what one of the others already did, and cost two more channels.
    const fallbacks: Partial<Record<FirewallCommandKey, [FirewallCommandKey, FirewallCommandKey]>> = {
      'iptables-save': ['iptables-legacy-save', 'iptables-nft-save'], 'ip6tables-save': ['ip6tables-legacy-save', 'ip6tables-nft-save'],
    };
    const allowed = firewallCommandKeys.filter((k) => canSudo || cmds[k].sudo !== true);
    const keys = allowed.filter((k) => fallbacks[k] === undefined);
    // Where the SYN comes in does not depend on the rules, so it is asked for alongside the dumps.
    const routing = (async () => {
      const c = fromIp ?? await clientAddress();
      return c ? { client: c, route: outOf(await onTargetUrgently(buildRouteGetCommand({ address: c }))) } : undefined;
    })();
    routing.catch(() => undefined);
    const results = await Promise.all(keys.map((k) => onTarget(cmds[k])));
    const firstError = results.find((r): r is { error: unknown } => 'error' in r);
    if (results.every((r) => 'error' in r)) couldNotRun('firewall', firstError?.error);
    const outputs: Partial<Record<FirewallCommandKey, CommandOutput>> = {};
    keys.forEach((k, i) => { const o = outOf(results[i]!); if (o) outputs[k] = o; });
    const needed = allowed.filter((k) => fallbacks[k]?.every((s) => outputs[s]?.code !== 0) === true);
    const fallbackResults = await Promise.all(needed.map((k) => onTargetUrgently(cmds[k])));
    needed.forEach((k, i) => { const o = outOf(fallbackResults[i]!); if (o) outputs[k] = o; });
    const collected = parseFirewallOutputs(outputs);
    if (canSudo && dumpsUseIpsets(collected.dumps)) addIpsetOutput(collected, outOf(await onTargetUrgently(buildIpsetSaveCommand())));
    const routed = await routing;
    const client = routed?.client;
    if (!client) {
      return { probe: 'firewall', ok: false, summary: 'rules collected, but the client address is unknown (the vantage has no route to the target), so nothing was simulated', raw: [], durationMs: deps.now() - started, data: collected };
    }
    const route = routed.route;
    const inIface = route ? parseRouteGet(route).dev : undefined;
    const ev = analyzeFirewall(collected, { client, target: targetIp, port, ...(inIface ? { inIface } : {}) }, deps.explain, deps.now() - started);
    const other = await otherFamilyVerdict(collected);
    if (other && ev.data) (ev.data as FirewallData).otherFamily = other;
    return ev;
  });

  /** The same flow over the target's other IP version, when both ends have one: dual-stack rules often differ. */
  const otherFamilyVerdict = async (collected: ReturnType<typeof parseFirewallOutputs>): Promise<FirewallData['otherFamily']> => {
    if (!deps.explain || fromIp) return undefined;
    const otherTarget = collected.localAddresses.find((a) => isIP(a) !== 0 && familyOf(a) !== family && !/^(127\.|::1$|fe80:)/i.test(a));
    if (!otherTarget) return undefined;
    const out = outOf(await onVantage(buildRouteGetCommand({ address: otherTarget })));
    const otherClient = out ? parseRouteGet(out).prefsrc : undefined;
    if (!otherClient) return undefined;
    const { forward } = flowsFor({ client: otherClient, target: otherTarget, port });
    try {
      const host = { localAddresses: collected.localAddresses, interfaces: collected.interfaces, ...(collected.ipsetSave === undefined ? {} : { ipsetSave: collected.ipsetSave }) };
      const { reply: _reply, ...verdict } = deps.explain({ dumps: collected.dumps, flow: forward, host });
      return { ...verdict, flow: forward };
    } catch {
      return undefined;
    }
  };

  const tcpWrappers = async (): Promise<EvidenceItem> => {
    const [files, l] = await Promise.all([onTarget(buildWrappersFilesCommand()), listener().catch(() => undefined)]);
    if ('error' in files) couldNotRun('tcp-wrappers', files.error);
    const proc = (l?.data as ListenerData | undefined)?.processes[0];
    // Only the executable's path needs root; the scan of the binary runs as the login user.
    // Follow-up steps of a chain go first: they already waited their turn once.
    const exe = proc && canSudo ? outOf(await onTargetUrgently(buildExeCommand({ pid: proc.pid }))) : undefined;
    const exePath = exe ? parseExeOutput(exe) : undefined;
    const scan = exePath ? outOf(await onTargetUrgently(buildLibwrapScanCommand({ exe: exePath }))) : undefined;
    const client = fromIp ?? await clientAddress() ?? '0.0.0.0';
    return parseTcpWrappersOutputs({ files: files.out, ...(exe ? { exe } : {}), ...(scan ? { scan } : {}) }, { port, client, ...(proc ? { processName: proc.name } : {}) });
  };

  const persistence = async (): Promise<EvidenceItem> => {
    if (!canSudo) return { probe: 'persistence', ok: false, summary: 'skipped: reading the saved rules needs sudo', raw: [], durationMs: 0, error: { code: 'permission', message: 'no sudo on the target' } };
    const cmds = buildPersistenceCommands();
    const keys = Object.keys(cmds) as PersistenceCommandKey[];
    const [results, fw] = await Promise.all([Promise.all(keys.map((k) => onTarget(cmds[k]))), firewall()]);
    const outputs: Partial<Record<PersistenceCommandKey, CommandOutput>> = {};
    keys.forEach((k, i) => { const o = outOf(results[i]!); if (o) outputs[k] = o; });
    if (!fw.data) return { probe: 'persistence', ok: false, summary: 'not checked: the running rules could not be read', raw: [], durationMs: 0, error: { code: 'no-runtime-rules', message: fw.summary } };
    return parsePersistenceOutputs(outputs, { runtime: fw.data as FirewallData, ...(deps.explain ? { explain: deps.explain } : {}) });
  };

  let markArmed!: () => void;
  const liveTestArmed = new Promise<void>((resolve) => { markArmed = resolve; });
  const liveTest = once(async (): Promise<EvidenceItem[]> => {
    const clients = [...new Set([await clientAddress(), fromIp].filter((a): a is string => a !== undefined))];
    if (!target.startStreaming || !canSudo || clients.length === 0) {
      markArmed();
      return [await connect()];
    }
    const { capture, connect: triggered } = await runCaptureSession(
      { startStreaming: target.startStreaming, runOnTarget: target.run, triggerConnect: connect, onStarted: markArmed },
      {
        clientAddresses: clients, port, family, timeLimitMs: connectTimeoutMs + 4000, settleMs: 1000, ...(signal ? { signal } : {}),
        ...(deps.stopConnectAfterAnswerMs !== undefined ? { stopConnectAfterAnswerMs: deps.stopConnectAfterAnswerMs } : {}),
      },
    );
    return [capture, triggered ?? await connect()];
  });

  const runners: Record<ProbeName, () => Promise<EvidenceItem>> = {
    reach, connect: () => connect(), listener, 'local-connect': localConnect, 'tcp-wrappers': tcpWrappers, firewall, persistence,
    capture: async () => (await liveTest())[0]!,
  };
  // The connect a probe job runs alone is never stopped early.
  return {
    run: (name) => runners[name](), liveTestArmed,
    runLiveTest: () => liveTest().finally(markArmed),
  };
}
