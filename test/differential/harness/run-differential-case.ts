import { analyzerAgrees, fromKernel, runAnalyzer, type AnalyzerRun, type ComparableAnswer } from './compare-with-analyzer.ts';
import type { Backend, IpFamily, KernelOracle, ProbeAnswer, RulesetPart } from './kernel-oracle.ts';
import type { ProbePacket } from './start-packet-sender.ts';
import type { CtState } from './ruleset-model.ts';

export interface PacketCase { packet: ProbePacket; state: CtState }

export interface CaseOutcome {
  /** The backend, or `a+b` when several were loaded at once. */
  backend: string;
  /** What was loaded (generated text or fixture). */
  text: string;
  /** What the kernel read back and the analyzer parsed. */
  readback: string;
  packet: ProbePacket;
  state: CtState;
  kernel: ComparableAnswer;
  kernelRaw?: ProbeAnswer;
  analyzer: AnalyzerRun;
  agree: boolean;
}

/** Loads one ruleset and runs every packet through the kernel and the analyzer. */
export function runDifferentialCase(oracle: KernelOracle, backend: Backend, text: string, packets: readonly PacketCase[], family: IpFamily = 'ipv4',
  ipsets?: { text: string; withhold: boolean }): Promise<CaseOutcome[]> {
  return runDifferentialParts(oracle, [{ backend, text, family, ...(ipsets === undefined ? {} : { ipsets: ipsets.text, withholdIpsets: ipsets.withhold }) }], packets);
}

/** Same, with several backends active at once; the analyzer gets every readback, merged. */
export async function runDifferentialParts(oracle: KernelOracle, parts: readonly RulesetPart[], packets: readonly PacketCase[]): Promise<CaseOutcome[]> {
  const loaded = await oracle.loadMany(parts);
  const backend = parts.map((p) => p.backend).join('+');
  const text = parts.map((p) => p.text).join(parts.length > 1 ? '\n# ---- next backend ----\n' : '');
  const readback = loaded.map((l) => l.readback).join('\n');
  // Withheld: the analyzer must answer as it would on a host where `ipset save` was not collected.
  const analyzed = parts.some((p) => p.withholdIpsets === true) ? loaded.map(({ ipsetSave: _withheld, ...rest }) => rest) : loaded;
  const out: CaseOutcome[] = [];
  for (const { packet, state } of packets) {
    let kernel: ComparableAnswer;
    let kernelRaw: ProbeAnswer | undefined;
    try {
      kernelRaw = await oracle.probe(packet);
      kernel = fromKernel(kernelRaw);
    } catch (error) {
      // A harness failure is reported like a disagreement: it must never silently drop the case.
      kernel = { verdict: `harness error: ${error instanceof Error ? error.message : String(error)}`, decidedBy: '', path: [] };
    }
    const analyzer = runAnalyzer(analyzed, packet, state);
    const outcome: CaseOutcome = { backend, text, readback, packet, state, kernel, analyzer, agree: analyzerAgrees(kernel, analyzer) };
    if (kernelRaw !== undefined) outcome.kernelRaw = kernelRaw;
    out.push(outcome);
  }
  return out;
}
