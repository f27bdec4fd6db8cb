import type { Backend, KernelOracle } from './kernel-oracle.ts';
import { renderIpsetRestore } from './render-ipset-restore.ts';
import { renderIptablesSave } from './render-iptables-save.ts';
import { renderNft } from './render-nft.ts';
import { runDifferentialCase, type CaseOutcome, type PacketCase } from './run-differential-case.ts';
import type { GenRuleset } from './ruleset-model.ts';

/** `family` is the nft table family: `ip` means ip6 for an IPv6 ruleset. */
export function renderFor(backend: Backend, ruleset: GenRuleset, family: 'ip' | 'inet'): string | undefined {
  const nftFamily = family === 'ip' && ruleset.family === 'ipv6' ? 'ip6' : family;
  return backend === 'nft' ? renderNft(ruleset, nftFamily) : renderIptablesSave(ruleset);
}

/**
 * Greedy one-rule-at-a-time reduction: drop a rule, re-run kernel and analyzer, keep the drop
 * while they still disagree. Bounded, because every attempt is a real load plus probe.
 */
export async function minimizeDisagreement(
  oracle: KernelOracle, backend: Backend, ruleset: GenRuleset, family: 'ip' | 'inet', probe: PacketCase, maxAttempts = 40,
): Promise<{ ruleset: GenRuleset; outcome: CaseOutcome } | undefined> {
  const check = async (candidate: GenRuleset): Promise<CaseOutcome | undefined> => {
    const text = renderFor(backend, candidate, family);
    if (text === undefined) return undefined;
    try {
      // The sets stay whole while rules are dropped (a rule naming a missing set would not load).
      const ipsets = backend === 'nft' ? undefined : renderIpsetRestore(candidate);
      const [outcome] = await runDifferentialCase(oracle, backend, text, [probe], ruleset.family ?? 'ipv4', ipsets === undefined ? undefined : { text: ipsets, withhold: false });
      return outcome !== undefined && !outcome.agree ? outcome : undefined;
    } catch {
      return undefined;
    }
  };
  let current = structuredClone(ruleset);
  let best = await check(current);
  if (best === undefined) return undefined;
  let attempts = 0;
  for (let t = current.tables.length - 1; t >= 0; t--) {
    for (let c = (current.tables[t]?.chains.length ?? 0) - 1; c >= 0; c--) {
      for (let r = (current.tables[t]?.chains[c]?.rules.length ?? 0) - 1; r >= 0; r--) {
        if (attempts++ >= maxAttempts) return { ruleset: current, outcome: best };
        const candidate = structuredClone(current);
        candidate.tables[t]?.chains[c]?.rules.splice(r, 1);
        const outcome = await check(candidate);
        if (outcome !== undefined) {
          current = candidate;
          best = outcome;
        }
      }
    }
  }
  return { ruleset: current, outcome: best };
}
