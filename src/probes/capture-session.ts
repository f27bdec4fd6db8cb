import type { ExecResult } from '../remote/executor.ts';
import type { ConnectData } from '../triage/evidence-types.ts';
import type { EvidenceItem } from '../triage/report-types.ts';
import type { CommandOutput } from './command-output.ts';
import {
  buildCaptureCommand, buildCounterCommands, buildUnsuffixedCounterCommand, captureEvidence, captureSettled, classifyCapture,
  inferConnectFromCapture, tcpdumpReadyPattern, toolMissing, type CaptureOptions,
} from './capture-probe.ts';
import type { RunCommand, StartStreaming } from './ports.ts';

export interface CaptureSessionDeps {
  /** Streams tcpdump on the target. */
  startStreaming: StartStreaming;
  /** Runs commands on the target (counter snapshots); omit to skip counters. */
  runOnTarget?: RunCommand;
  /**
   * Makes the test connection from the vantage; called only once tcpdump is ready. The signal
   * fires when the capture already holds the answer and `stopConnectAfterAnswerMs` has passed.
   */
  triggerConnect: (signal?: AbortSignal) => Promise<EvidenceItem>;
  /** Called once tcpdump and the first counter snapshot have asked for their channels. */
  onStarted?: () => void;
}

export interface CaptureSessionOptions extends CaptureOptions {
  family: 'ipv4' | 'ipv6';
  /** After the connect's outcome, how long to wait for the answer to show in the capture (200 ms at most after a timeout). @defaultValue 1000 */
  settleMs?: number;
  /**
   * Linux (≥ 6.5) keeps an ICMP error in SYN_SENT as a soft error until the SYN's first
   * retransmission, so connect() reports it only after ~1 s. When set, the connect is stopped this
   * long after the capture shows an ICMP answer, and the client's outcome is taken from that ICMP.
   * Off by default: a middlebox could drop the ICMP on its way back, which only the client sees.
   */
  stopConnectAfterAnswerMs?: number;
  signal?: AbortSignal;
}


const failedOutput = (err: unknown): CommandOutput => ({ code: null, stdout: '', stderr: err instanceof Error ? err.message : String(err) });

/**
 * Capture on the target while the vantage connects: counters + tcpdump ready → connect → wait for
 * the answer in the capture (bounded) → stop → counters. The order is what makes it deterministic.
 */
export async function runCaptureSession(deps: CaptureSessionDeps, options: CaptureSessionOptions): Promise<{ capture: EvidenceItem; connect?: EvidenceItem }> {
  const cmd = buildCaptureCommand(options);
  const ctx = { clientAddresses: options.clientAddresses, port: options.port };
  let counterCmds = deps.runOnTarget ? buildCounterCommands(options.family) : [];
  const snapshot = (): Promise<CommandOutput[]> => Promise.all(counterCmds.map(({ cmd: c }) =>
    deps.runOnTarget!(c, { urgent: true, ...(options.signal ? { signal: options.signal } : {}) }).catch(failedOutput)));
  // The snapshot only has to precede the test connect, so it runs while tcpdump starts.
  const snapshotBefore = snapshot();
  const session = deps.startStreaming(cmd, { readyPattern: tcpdumpReadyPattern, ...(options.signal ? { signal: options.signal } : {}) });
  deps.onStarted?.();
  try {
    await session.ready;
  } catch {
    await snapshotBefore;
    const result = await session.stop().catch((err: unknown): ExecResult => ({ ...failedOutput(err), durationMs: 0, truncated: false, timedOut: false }));
    return { capture: captureEvidence({ tcpdump: result, ctx }) };
  }
  let before = await snapshotBefore;
  if (before.length > 0 && before.every(toolMissing)) {
    // Neither suffixed tool exists: an iptables older than 1.8, whose plain tool is the legacy one.
    counterCmds = [buildUnsuffixedCounterCommand(options.family)];
    before = await snapshot();
  }
  let connect: EvidenceItem | undefined;
  const early = new AbortController();
  let earlyTimer: NodeJS.Timeout | undefined;
  if (options.stopConnectAfterAnswerMs !== undefined) {
    const graceMs = options.stopConnectAfterAnswerMs;
    void session.waitForStdout((l) => classifyCapture(l, ctx).classification === 'icmp-unreachable', options.timeLimitMs ?? 10_000)
      .then((seen) => { if (seen) earlyTimer = setTimeout(() => early.abort(new Error('answer seen in the capture')), graceMs); });
  }
  try {
    connect = await deps.triggerConnect(early.signal);
    if (early.signal.aborted) connect = inferConnectFromCapture(connect, classifyCapture(session.stdoutLines(), ctx));
  } finally {
    clearTimeout(earlyTimer);
    // After a timeout no answer is coming, and stopping (stdin EOF) lets tcpdump print every packet
    // it already has, so there is nothing to wait for.
    const timedOut = (connect?.data as ConnectData | undefined)?.outcome === 'timeout';
    if (!timedOut) await session.waitForStdout((l) => captureSettled(l, ctx), options.settleMs ?? 1000);
  }
  const [tcpdump, after] = await Promise.all([session.stop(), snapshot()]);
  const counters = counterCmds.map(({ source }, i) => ({ source, before: before[i]!, after: after[i]! }));
  return { capture: captureEvidence({ tcpdump, ctx, connect, counters }), connect };
}
