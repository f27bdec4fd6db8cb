import type { ExecResult } from '../remote/executor.ts';
import type { RemoteCommand } from '../remote/remote-command.ts';
import type { FlowSpec, FlowVerdict, HostInterfaceInfo, RulesetDump } from '../triage/evidence-types.ts';

/**
 * What the probes need from the outside, as small interfaces the composition root wires:
 * command execution (src/remote Executor fits RunCommand), long-running streaming commands
 * (tcpdump), and the analyzer.
 */

export type RunCommand = (cmd: RemoteCommand, options?: { signal?: AbortSignal; urgent?: boolean }) => Promise<ExecResult>;

export interface StreamingOptions {
  /** Resolve `ready` once a stderr line matches, e.g. tcpdump's "listening on …". */
  readyPattern: RegExp;
  signal?: AbortSignal;
}

/** A command that keeps running while the caller does something else. */
export interface StreamingSession {
  /** Resolves when stderr matched readyPattern; rejects if the command ends (or times out) first. */
  ready: Promise<void>;
  /** Complete stdout lines so far. */
  stdoutLines(): string[];
  /** Resolves true once `predicate` holds for the stdout lines, false after `timeoutMs` or when the command ends. */
  waitForStdout(predicate: (lines: string[]) => boolean, timeoutMs: number): Promise<boolean>;
  /** Ends the command (TERM, then KILL) and returns everything it printed. */
  stop(): Promise<ExecResult>;
}

export type StartStreaming = (cmd: RemoteCommand, options: StreamingOptions) => StreamingSession;

export interface ExplainFlowInput {
  dumps: RulesetDump[];
  flow: FlowSpec;
  /** `ipsetSave`: `ipset save` output, for `-m set` rules. */
  host: { localAddresses: string[]; interfaces: HostInterfaceInfo[]; ipsetSave?: string };
}

/**
 * The analyzer, reduced to one call: parse the dumps, merge them, explain one packet (and, when
 * the request passes, the server's answer through OUTPUT as `reply`). May throw.
 */
export type ExplainFlow = (input: ExplainFlowInput) => FlowVerdict & { reply?: FlowVerdict };
