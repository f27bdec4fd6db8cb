import { LOCAL_ADDRESSES, LOCAL_ADDRESSES6 } from './lab-topology.ts';

/**
 * A REJECT in OUTPUT answers the firewall's own packet (SYN-ACK, echo reply, RST) with an error
 * addressed to the firewall itself: it crosses every OUTPUT/POSTROUTING chain, then loops back
 * through PREROUTING and INPUT, and lands in the counters the oracle reads (FINDINGS.md). This
 * harness-only table drops such errors first, at the lowest possible output priority (before raw at
 * -300 and conntrack at -200), so no chain under test ever sees them; one counter per error type
 * tells which error the REJECT really produced. It is loaded after every `nft flush ruleset` and
 * stripped from every `nft -j list ruleset` dump before counters are read or the analyzer parses it.
 */
export const GUARD_TABLE = 'wbharness';

const GUARD_PRIORITY = -2147483648;

const ICMP_CODES: Array<[number, string]> = [
  [0, 'icmp-net-unreachable'], [1, 'icmp-host-unreachable'], [2, 'icmp-proto-unreachable'], [3, 'icmp-port-unreachable'],
  [9, 'icmp-net-prohibited'], [10, 'icmp-host-prohibited'], [13, 'icmp-admin-prohibited'],
];
const ICMP6_CODES: Array<[number, string]> = [
  [0, 'icmp6-no-route'], [1, 'icmp6-adm-prohibited'], [3, 'icmp6-addr-unreachable'], [4, 'icmp6-port-unreachable'],
  [5, 'icmp6-policy-fail'], [6, 'icmp6-reject-route'],
];
/** Anything else to the firewall's own addresses (never expected: the lab sends nothing to itself otherwise). */
const OTHER = 'other';

export function selfErrorGuardScript(): string {
  const v4 = `ip daddr { ${LOCAL_ADDRESSES.join(', ')} }`;
  const v6 = `ip6 daddr { ${LOCAL_ADDRESSES6.join(', ')} }`;
  const rules = [
    ...ICMP_CODES.map(([code, name]) => `${v4} icmp type destination-unreachable icmp code ${code} counter drop comment "${name}"`),
    `${v4} tcp flags & rst == rst counter drop comment "tcp-reset"`,
    `${v4} counter drop comment "${OTHER}"`,
    ...ICMP6_CODES.map(([code, name]) => `${v6} icmpv6 type destination-unreachable icmpv6 code ${code} counter drop comment "${name}"`),
    `${v6} tcp flags & rst == rst counter drop comment "tcp-reset"`,
    `${v6} counter drop comment "${OTHER}"`,
  ];
  return [
    `table inet ${GUARD_TABLE} {`,
    '\tchain self_errors {',
    `\t\ttype filter hook output priority ${GUARD_PRIORITY}; policy accept;`,
    ...rules.map((r) => `\t\t${r}`),
    '\t}',
    '}',
    '',
  ].join('\n');
}

/** Packets the guard dropped, per error type (`other` for anything unexpected). */
export type GuardCounters = Record<string, number>;

type Json = Record<string, unknown>;

/**
 * Splits a `nft -j list ruleset` (or `list table inet wbharness`) dump into the ruleset without the
 * guard table and the guard's counters (empty when the guard is not in the dump).
 */
export function splitGuard(jsonText: string): { ruleset: string; guard: GuardCounters; hadGuard: boolean } {
  const guard: GuardCounters = {};
  if (jsonText.trim() === '') return { ruleset: jsonText, guard, hadGuard: false };
  const doc = JSON.parse(jsonText) as { nftables?: Json[] };
  let hadGuard = false;
  const kept = (doc.nftables ?? []).filter((item) => {
    const body = (item.table ?? item.chain ?? item.rule ?? item.set ?? item.map) as Json | undefined;
    if (body === undefined || body.family !== 'inet' || (item.table !== undefined ? body.name : body.table) !== GUARD_TABLE) return true;
    hadGuard = true;
    if (item.rule !== undefined) {
      const expr = (body.expr as Json[] | undefined) ?? [];
      const counter = expr.find((e) => 'counter' in e)?.counter as { packets?: number } | undefined;
      const name = typeof body.comment === 'string' ? body.comment : OTHER;
      guard[name] = (guard[name] ?? 0) + (counter?.packets ?? 0);
    }
    return false;
  });
  if (!hadGuard) return { ruleset: jsonText, guard, hadGuard };
  return { ruleset: JSON.stringify({ nftables: kept }), guard, hadGuard };
}

/** The error types whose guard counter rose between two dumps. */
export function guardDelta(before: GuardCounters | undefined, after: GuardCounters | undefined): string[] {
  return Object.entries(after ?? {}).filter(([name, n]) => n > (before?.[name] ?? 0)).map(([name]) => name);
}
