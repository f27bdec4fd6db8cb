/** Per-rule counters of a loaded ruleset, normalised across iptables-save -c and nft JSON. */
export type RuleAction =
  | { kind: 'accept' | 'drop' | 'return' | 'none' }
  | { kind: 'reject'; rejectWith: string }
  | { kind: 'jump' | 'goto'; chain: string };

export interface CounterRule {
  /** iptables: 1-based position in its chain; nft: the rule handle. */
  id: number;
  packets: number;
  action: RuleAction;
  /** The bare counters that open and close a native nft base chain (render-nft's markers). */
  marker?: 'entry' | 'exit' | 'vmap-miss' | 'vmap-jump';
  text: string;
  /**
   * A native nft `vmap @map` whose map has per-element counters: one entry per element, in map
   * order. The element whose counter rose is the verdict the rule took (none rose: no element matched).
   */
  vmap?: Array<{ packets: number; action: RuleAction }>;
  /** A native nft anonymous `vmap { … }` (no per-element counters): the verdicts of its elements, in order. */
  anonymousVmap?: RuleAction[];
}

export interface CounterChain {
  /** nft family ("ip", "inet"), or the iptables backend name ("iptables-legacy", "iptables-nft"). */
  family: string;
  table: string;
  name: string;
  /** Lower-case hook for base chains (prerouting, input, ...). */
  hook?: string;
  priority?: number;
  /** `nat` chains see only a connection's first packet, so they may be skipped without the packet being lost. */
  type?: 'filter' | 'nat' | 'route';
  policy?: 'accept' | 'drop';
  /** Policy hits: iptables `:CHAIN POLICY [p:b]`; undefined for nft, which has none. */
  policyPackets?: number;
  rules: CounterRule[];
}

export interface CounterSnapshot {
  chains: CounterChain[];
  /** Errors the harness's self-error guard dropped, per type (self-error-guard.ts); not part of the ruleset. */
  guard?: Record<string, number>;
}

export function chainKey(chain: Pick<CounterChain, 'family' | 'table' | 'name'>): string {
  return `${chain.family} ${chain.table} ${chain.name}`;
}
