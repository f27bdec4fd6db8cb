/**
 * Backend-neutral model of a generated ruleset. It is rendered both as iptables-save text and as
 * `nft -f` text, so the same intent is checked under legacy, iptables-nft and native nft.
 */
/** `extra` exists only in the nft dialect: a second filter-type table hooked at input (priority ±10). */
export type TableName = 'raw' | 'mangle' | 'nat' | 'filter' | 'security' | 'extra';
export type HookName = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';
export type CtState = 'INVALID' | 'NEW' | 'RELATED' | 'ESTABLISHED' | 'UNTRACKED';
export type RejectWith =
  | 'icmp-net-unreachable' | 'icmp-host-unreachable' | 'icmp-port-unreachable' | 'icmp-proto-unreachable'
  | 'icmp-net-prohibited' | 'icmp-host-prohibited' | 'icmp-admin-prohibited' | 'tcp-reset'
  | 'icmp6-no-route' | 'icmp6-adm-prohibited' | 'icmp6-addr-unreachable' | 'icmp6-port-unreachable'
  | 'icmp6-policy-fail' | 'icmp6-reject-route';

export interface Negatable { neg: boolean }
export interface PortRange { lo: number; hi: number }

export interface GenMatch {
  src?: Negatable & { cidr: string };
  dst?: Negatable & { cidr: string };
  inIface?: Negatable & { name: string };
  /** OUTPUT and FORWARD only: `-o` / `oifname` (the lab routes everything out of out0). */
  outIface?: Negatable & { name: string };
  /** `icmpv6` only in IPv6 rulesets, `icmp` only in IPv4 ones. */
  proto?: Negatable & { name: 'tcp' | 'udp' | 'icmp' | 'icmpv6' | number };
  /** Only with a non-negated tcp/udp proto. */
  sport?: Negatable & PortRange;
  dport?: Negatable & PortRange;
  tcpFlags?: Negatable & { mask: string[]; comp: string[] };
  multiport?: Negatable & { option: 'dports' | 'sports' | 'ports'; items: PortRange[] };
  iprange?: Negatable & { option: 'src-range' | 'dst-range'; lo: string; hi: string };
  /**
   * `nftBraces` picks the nft spelling: `ct state != { a, b }` (a set: "none of") versus
   * `ct state != a,b`, which nft 1.0.6 compiles to a plain inequality with a|b (see FINDINGS.md).
   */
  ctstate?: Negatable & { module: 'conntrack' | 'state'; states: CtState[]; nftBraces?: boolean };
  addrtype?: Negatable & { option: 'src-type' | 'dst-type'; types: string[] };
  /** Only with a non-negated icmp/icmpv6 proto. */
  icmpType?: Negatable & { type: number; code?: number };
  mark?: Negatable & { value: number; mask: number };
  /**
   * A match whose result depends on state no dump holds (rate buckets, recent lists, payload, …).
   * The analyzer must answer `unknown` and offer both outcomes; the kernel must pick one of them.
   */
  stateful?: StatefulMatch;
  /**
   * nft only: a set lookup, anonymous (`ip saddr { a, b }`) or, with `named`, `@name` declared in
   * the table (GenTable.sets). `saddr.dport` is a concatenation; its elements are `addr . port`.
   * Elements are nft text (`10.0.0.0/8`, `192.0.2.1-192.0.2.9`, `22`, `80-90`).
   */
  nftSet?: Negatable & { key: NftSetKey; elements: string[]; named?: string; l4?: 'tcp' | 'udp' };
  /** nft only: `fib saddr|daddr type [!=] { types }` (IPv4: judged from the host's addresses). */
  fibType?: Negatable & { field: 'saddr' | 'daddr'; types: string[] };
  /** nft only: `fib saddr . iif oif missing` (reverse-path check), which needs the routing table. */
  fibRpf?: true;
  /** nft only: `meta nfproto [!=] ipv4|ipv6` (an inet table sees both families). */
  nfproto?: Negatable & { value: 'ipv4' | 'ipv6' };
  /** nft only: `ct status [!=] dnat|snat|…` (one status bit). */
  ctStatus?: Negatable & { status: string };
  /** iptables only: `-m set [!] --match-set NAME dirs [--return-nomatch]` over GenRuleset.ipsets. */
  ipset?: Negatable & { name: string; dirs: string; returnNomatch?: boolean };
  comment?: string;
  /** IPv4 `-s`/`-d` with a dotted non-contiguous mask (`addr` already masked, as iptables-save prints it). */
  maskedAddr?: Negatable & { field: 'src' | 'dst'; addr: string; mask: string };
  /** IPv4 `-f` (a non-first fragment): never true for the generated packets, so `! -f` always matches. */
  fragment?: Negatable;
  /** `-m connmark --mark` / nft `ct mark`: the connection's mark (no match at all without a connection). */
  connmark?: Negatable & { value: number; mask: number };
}

export type NftSetKey = 'saddr' | 'daddr' | 'sport' | 'dport' | 'saddr.dport';

/** A named set declared in an nft table. */
export interface GenNamedSet { name: string; key: NftSetKey; interval: boolean; elements: string[] }

/** A named verdict map with per-element counters: the element whose counter rose tells which verdict the kernel took. */
export interface GenVmap { name: string; entries: Array<{ ports: PortRange; verdict: 'accept' | 'drop' | { jump: string } }> }

export type StatefulMatch = 'limit' | 'recent-set' | 'recent-check' | 'string' | 'statistic' | 'length' | 'nft-quota';

export type GenTarget =
  | { kind: 'ACCEPT' | 'DROP' | 'RETURN' | 'NONE' | 'NOTRACK' }
  | { kind: 'REJECT'; rejectWith: RejectWith }
  | { kind: 'LOG'; prefix: string }
  | { kind: 'MARK'; value: number; mask: number }
  /** nat PREROUTING only; a port only after a non-negated tcp/udp protocol match. */
  | { kind: 'DNAT'; to: string; port?: number }
  | { kind: 'REDIRECT'; port?: number }
  | { kind: 'jump' | 'goto'; chain: string }
  /** nft only: `counter <l4> dport vmap @map` (the map is in GenTable.vmaps). */
  | { kind: 'vmap'; l4: 'tcp' | 'udp'; map: string }
  /**
   * nft only: an anonymous verdict map, `counter <key> vmap { k : verdict, … }`, always followed by a
   * harness `counter comment "diff-vmap-miss"` rule (see decide-from-counters for the oracle).
   * Keys are nft element text (`22`, `80-90`, `10.1.0.0/28`, `10.1.0.5 . 22`).
   */
  | { kind: 'avmap'; key: AvmapKey; l4: 'tcp' | 'udp'; entries: Array<{ key: string; verdict: 'accept' | 'drop' | { jump: string } }> }
  /** nft only: `continue` (a no-op verdict: evaluation goes on with the next rule). */
  | { kind: 'CONTINUE' }
  /** Non-terminating targets (issue #3): the verdict must pass through them unchanged. */
  | { kind: 'NFLOG'; group: number }
  | { kind: 'CONNMARK'; op: 'set'; value: number; mask: number }
  | { kind: 'CONNMARK'; op: 'save' | 'restore' }
  /** raw only: `-j CT --zone N` / nft `ct zone set N` (attaches a conntrack template). */
  | { kind: 'CTZONE'; zone: number }
  /** raw only: `-j TRACE` / nft `meta nftrace set 1`. */
  | { kind: 'TRACE' }
  /** mangle: `-j DSCP --set-dscp N` / nft `ip dscp set N` (the latter unknown to the analyzer). */
  | { kind: 'DSCP'; dscp: number }
  /** mangle, after `-p tcp`, iptables only: a target the analyzer does not know (it must flag it). */
  | { kind: 'TCPOPTSTRIP' }
  /** nat INPUT / POSTROUTING. */
  | { kind: 'SNAT'; to: string }
  | { kind: 'MASQUERADE' };

export type AvmapKey = 'dport' | 'saddr' | 'saddr.dport';

export interface GenRule { match: GenMatch; target: GenTarget }

export interface GenChain {
  name: string;
  /** Built-in chains carry a hook and a policy; user chains have neither. */
  hook?: HookName;
  /** nft only: overrides the table's usual priority. */
  priority?: number;
  policy?: 'ACCEPT' | 'DROP';
  rules: GenRule[];
  /** nft only: the jump target of an anonymous verdict map; opens with `counter comment "diff-vmap-jump"`. */
  vmapTarget?: true;
}

export interface GenTable { name: TableName; chains: GenChain[]; sets?: GenNamedSet[]; vmaps?: GenVmap[] }

/**
 * An ipset created (`ipset restore`) in the firewall namespace before the ruleset loads. `elements`
 * are what follows `add NAME` (`10.0.0.0/24 nomatch`, `10.99.0.2,tcp:80`, a member set's name).
 */
export interface GenIpset { name: string; type: string; createOptions: string; elements: string[] }

/** `family` absent means ipv4 (rulesets recorded before IPv6 was generated). */
export interface GenRuleset { seed: number; dialect: 'iptables' | 'nft'; family?: 'ipv4' | 'ipv6'; tables: GenTable[]; ipsets?: GenIpset[] }

/** Base-chain evaluation order on the local-delivery path (netfilter_ipv4.h priorities). */
export const PATH_ORDER: ReadonlyArray<{ table: TableName; hook: HookName; priority: number }> = [
  { table: 'raw', hook: 'PREROUTING', priority: -300 },
  { table: 'mangle', hook: 'PREROUTING', priority: -150 },
  { table: 'mangle', hook: 'INPUT', priority: -150 },
  { table: 'filter', hook: 'INPUT', priority: 0 },
];
