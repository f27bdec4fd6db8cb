import type { ExecResult } from '../remote/executor.ts';
import type { RemoteCommand } from '../remote/remote-command.ts';
import { explainFlowWithAnalyzer } from '../probes/analyzer-adapters.ts';
import type { CommandOutput } from '../probes/command-output.ts';
import {
  analyzeFirewall, buildFirewallCommands, buildRouteGetCommand, firewallCommandKeys, parseFirewallOutputs, parseRouteGet,
  type FirewallCommandKey,
} from '../probes/firewall-probe.ts';
import { buildPersistenceCommands, parsePersistenceOutputs, type PersistenceCommandKey } from '../probes/persistence-probe.ts';
import type { EvidenceItem } from '../triage/report-types.ts';
import type { FirewallData } from '../triage/evidence-types.ts';

export type Run = (cmd: RemoteCommand) => Promise<ExecResult>;

export interface FlowUnderChange {
  /** The address the client connects to. */
  targetAddress: string;
  port: number;
  /** Source address of the client as the target sees it; without it the flow is not simulated. */
  clientAddress?: string;
}

export interface HostRulesState {
  collected: Omit<FirewallData, 'forward' | 'reply'>;
  /** Same function as the triage's (hashRulesets over the same dumps), so hashes compare. */
  hash?: string;
  /** The analyzer's verdict on the flow with these rules (when a client address is known). */
  analysis?: EvidenceItem;
}

async function runAll<K extends string>(run: Run, cmds: Record<K, RemoteCommand>, keys: readonly K[]): Promise<Partial<Record<K, CommandOutput>>> {
  const outs = await Promise.all(keys.map(async (k) => [k, await run(cmds[k])] as const));
  return Object.fromEntries(outs) as Partial<Record<K, CommandOutput>>;
}

/** Reads the running rules exactly as the triage's firewall probe does, and simulates the flow. */
export async function readHostRules(run: Run, flow?: FlowUnderChange): Promise<HostRulesState> {
  const outputs = await runAll<FirewallCommandKey>(run, buildFirewallCommands(), firewallCommandKeys);
  const collected = parseFirewallOutputs(outputs);
  const state: HostRulesState = { collected, ...(collected.rulesetHash ? { hash: collected.rulesetHash } : {}) };
  if (flow?.clientAddress !== undefined) {
    const route = parseRouteGet(await run(buildRouteGetCommand({ address: flow.clientAddress })));
    state.analysis = analyzeFirewall(collected, {
      client: flow.clientAddress, target: flow.targetAddress, port: flow.port, ...(route.dev ? { inIface: route.dev } : {}),
    }, explainFlowWithAnalyzer);
  }
  return state;
}

/** The saved (boot-time) rules simulated for the flow, plus which saved files exist. */
export async function readSavedRules(run: Run, state: HostRulesState): Promise<{ evidence: EvidenceItem; files: string[] }> {
  const keys: PersistenceCommandKey[] = ['saved-files', 'nftables-conf', 'sysconfig-nftables-conf', 'nftables-enabled'];
  const outputs = await runAll(run, buildPersistenceCommands(), keys);
  const runtime = (state.analysis?.data ?? state.collected) as FirewallData;
  const evidence = parsePersistenceOutputs(outputs, { runtime, explain: explainFlowWithAnalyzer });
  const files = ((evidence.data as { savedFiles?: { path: string }[] } | undefined)?.savedFiles ?? []).map((f) => f.path);
  return { evidence, files };
}
