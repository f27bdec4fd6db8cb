/**
 * The unified firewall model. iptables-save text and `nft -j list ruleset` JSON both parse into
 * a Ruleset, so the simulator has one set of semantics to get right. Addresses are bigints so
 * IPv4 and IPv6 share the same comparisons.
 */

import type { IpsetContents } from './ipset/ipset-model.ts';

export type Family = 'ipv4' | 'ipv6';
export type TableFamily = Family | 'inet';
export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
export type ChainType = 'filter' | 'nat' | 'route';
export type CtState = 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID' | 'UNTRACKED';
/** conntrack virtual states SNAT/DNAT are matchable through `--ctstate` as well. */
export type CtStateName = CtState | 'SNAT' | 'DNAT';

export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

/** A packet as the simulator sees it; `undefined` fields do not exist in this packet's headers. */
export interface Packet {
  family: Family;
  proto: number;
  src: bigint;
  dst: bigint;
  sport?: number;
  dport?: number;
  /** Bit set of TcpFlag values; SYN for a new connection attempt. */
  tcpFlags: number;
  icmpType?: number;
  icmpCode?: number;
  /** `null` = not given: some interface other than `lo` (unless the source is local). */
  inIface: string | null;
  /** '' when the hook has no output device (PREROUTING/INPUT); `null` when it is not known. */
  outIface: string | null;
  ctState: CtState;
  /** `null` when an earlier CONNMARK restore made it unknowable offline. */
  mark: number | null;
  ctMark: number | null;
  ctStatus: string[];
  direction: 'original' | 'reply';
  /**
   * A conntrack template is attached (xt `CT` without --notrack, nft `ct zone set`, before conntrack
   * runs): a later NOTRACK is then ignored, and a ct mark reads the template's (0).
   */
  ctTemplate?: boolean;
  /** The state the packet had before NOTRACK made it UNTRACKED (nft `ct zone set` can undo that). */
  untrackedFrom?: CtState;
  /** Conntrack zone a template put the connection in (0, the default, when absent). */
  ctZone?: number;
  /**
   * The source before a nat INPUT SNAT rewrote it. Chains after nat INPUT (iptables-nft's security
   * at 150) see the new source; the host's answer is addressed to it but un-NATed back to this one
   * at nat OUTPUT (-100), before filter OUTPUT sees it.
   */
  snatFrom?: bigint;
}

export interface HostInterface {
  name: string;
  /** CIDR strings such as `192.168.30.2/24`; the first is the primary address. */
  addresses: string[];
}

/** A routing-table entry: packets to `dst` (CIDR; `0.0.0.0/0` or `::/0` is the default route) leave by `iface`. */
export interface HostRoute {
  dst: string;
  iface: string;
}

export interface HostContext {
  /** The host's own addresses (addrtype LOCAL, local delivery). Defaults to the packet's destination. */
  localAddresses?: string[];
  interfaces?: HostInterface[];
  /**
   * Routes beyond the interfaces' connected subnets (`ip route`): they choose the output interface of
   * forwarded packets and of the host's own answers. Without them only connected subnets are known.
   */
  routes?: HostRoute[];
  /** Parsed `ipset save` output (parseIpsetSave), for `-m set` rules; without it they are unknown. */
  ipsets?: IpsetContents;
}

export type PortRange = readonly [number, number];
export type BigRange = readonly [bigint, bigint];

/** Fields a generic nft comparison can read from a packet. */
export type FieldKey =
  | 'ip.saddr' | 'ip.daddr' | 'ip6.saddr' | 'ip6.daddr' | 'ip.protocol' | 'ip6.nexthdr'
  | 'tcp.sport' | 'tcp.dport' | 'udp.sport' | 'udp.dport' | 'th.sport' | 'th.dport'
  | 'icmp.type' | 'icmp.code' | 'icmpv6.type' | 'icmpv6.code'
  | 'meta.l4proto' | 'meta.nfproto' | 'meta.mark' | 'ct.mark' | 'tcp.flags';

interface MatchBase {
  /** The match as the source wrote it, e.g. `! -s 10.0.0.0/8` or `tcp dport 22`. */
  text: string;
  invert: boolean;
}

export type Match =
  /** `family` when the match implies it (nft `ip saddr & mask == addr`): other families never match. */
  | (MatchBase & { kind: 'addr'; field: 'src' | 'dst'; addr: bigint; mask: bigint; family?: Family })
  | (MatchBase & { kind: 'addrRange'; field: 'src' | 'dst'; ranges: BigRange[] })
  | (MatchBase & { kind: 'iface'; dir: 'in' | 'out'; name: string; wildcard: boolean })
  | (MatchBase & { kind: 'proto'; proto: number })
  | (MatchBase & { kind: 'fragment' })
  | (MatchBase & { kind: 'ports'; field: 'sport' | 'dport' | 'either'; ranges: PortRange[] })
  | (MatchBase & { kind: 'tcpFlags'; mask: number; comp: number })
  /** Any of `states`; with `exact`, the state word must equal their union (nft `==`/`!=` with `a|b`). */
  | (MatchBase & { kind: 'ctState'; states: CtStateName[]; exact?: boolean })
  /** Any of `statuses`; with `exact`, the whole status word must equal their union (nft `==`/`!=`, a `cmp`). */
  | (MatchBase & { kind: 'ctStatus'; statuses: string[]; exact?: boolean })
  | (MatchBase & { kind: 'ctDir'; dir: 'original' | 'reply' })
  /** `fib`: nft `fib saddr|daddr type`, the same lookup as addrtype for IPv4 (IPv6 fib consults routes: unknown). */
  | (MatchBase & { kind: 'addrType'; field: 'src' | 'dst'; types: string[]; limitIface: boolean; fib?: boolean })
  | (MatchBase & { kind: 'icmp'; family: Family; type: number | 'any'; codeMin: number; codeMax: number })
  /** `nft`: an nft `ct mark`, which (unlike xt connmark) reads nothing from a CT template before conntrack. */
  | (MatchBase & { kind: 'mark'; ct: boolean; value: number; mask: number; nft?: boolean })
  | (MatchBase & { kind: 'comment'; comment: string })
  /** Matches every packet but has a side effect worth showing (e.g. `-m recent --set`). */
  | (MatchBase & { kind: 'always'; note: string })
  | (MatchBase & { kind: 'values'; fields: FieldKey[]; elements: BigRange[][] })
  /** `-m set --match-set NAME src,dst`, judged from HostContext.ipsets; `counterTest` (`--packets-gt 5`) is not judgeable. */
  | (MatchBase & { kind: 'ipset'; set: string; dirs: ('src' | 'dst')[]; returnNomatch: boolean; counterTest?: string })
  | (MatchBase & { kind: 'unknown'; reason: string });

export type RejectWith =
  | 'icmp-net-unreachable' | 'icmp-host-unreachable' | 'icmp-proto-unreachable' | 'icmp-port-unreachable'
  | 'icmp-net-prohibited' | 'icmp-host-prohibited' | 'icmp-admin-prohibited' | 'tcp-reset'
  | 'icmp6-no-route' | 'icmp6-adm-prohibited' | 'icmp6-addr-unreachable' | 'icmp6-port-unreachable'
  | 'icmp6-policy-fail' | 'icmp6-reject-route';

/** nft `icmpx` reject codes resolve per packet family, so they stay symbolic until simulation. */
export type RejectSpec = RejectWith | { icmpx: 'port-unreachable' | 'admin-prohibited' | 'no-route' | 'host-unreachable' };

export type Target =
  | { kind: 'accept' }
  | { kind: 'drop' }
  | { kind: 'reject'; with: RejectSpec }
  | { kind: 'return' }
  | { kind: 'jump'; chain: string }
  | { kind: 'goto'; chain: string }
  /** No target at all (iptables) or nft `continue`: the rule only counts. */
  | { kind: 'none' }
  /** LOG, NFLOG, TRACE, counter, CT without --notrack, …: no effect on the verdict. */
  | { kind: 'nonTerminal'; name: string }
  /** mark = (mark & ~mask) ^ value (xt_MARK semantics); `ct` selects the conntrack mark. */
  | { kind: 'setMark'; ct: boolean; value: number; mask: number }
  | { kind: 'connmarkSave'; nfMask: number; ctMask: number }
  | { kind: 'connmarkRestore'; nfMask: number; ctMask: number }
  | { kind: 'notrack' }
  /**
   * Attaches a conntrack template (xt `CT --zone …`/`--helper …`, nft `ct zone set`). The first of
   * CT/NOTRACK wins in xt; nft `ct zone set` also overrides an earlier notrack (`overridesNotrack`).
   */
  | { kind: 'ctTemplate'; name: string; overridesNotrack: boolean; zone?: number }
  | { kind: 'dnat'; addr?: bigint; portMin?: number; portMax?: number }
  | { kind: 'redirect'; portMin?: number; portMax?: number }
  /** `addr`: SNAT's (first) new source; MASQUERADE takes the output interface's address. */
  | { kind: 'snat'; name: 'SNAT' | 'MASQUERADE'; addr?: bigint }
  | { kind: 'vmap'; fields: FieldKey[]; entries: { element: BigRange[]; verdict: Target }[] }
  | { kind: 'unknown'; name: string; reason: string };

export interface Rule {
  /** 1-based position in its chain (iptables -L --line-numbers); nft: same order, see `handle`. */
  position: number;
  /** nft rule handle, reported as the position of nft rules. */
  handle?: number;
  /** The rule as its source printed it. */
  text: string;
  /** 1-based line in the input file (iptables-save only). */
  line?: number;
  matches: Match[];
  /** nft side effects before the verdict (mark set, counter, …), applied when the rule matches. */
  actions?: Target[];
  target: Target;
  comment?: string;
  counters?: { packets: number; bytes: number };
}

export interface BaseChainInfo {
  hook: Hook;
  priority: number;
  policy: 'accept' | 'drop';
  type: ChainType;
}

export interface Chain {
  name: string;
  base?: BaseChainInfo;
  rules: Rule[];
  policyCounters?: { packets: number; bytes: number };
}

export interface Table {
  /** Where the table came from: "iptables-legacy", "iptables-nft", "nft", or a caller label. */
  source: string;
  family: TableFamily;
  name: string;
  chains: Map<string, Chain>;
}

export interface Ruleset {
  sources: string[];
  tables: Table[];
  /** Analysis warnings found while parsing (incompatible-table markers, xt tables, …). */
  warnings: string[];
}

/** Where a verdict came from; serialisable (no bigints) so it can go straight to JSON. */
export interface RuleRef {
  source: string;
  table: string;
  chain: string;
  position?: number;
  handle?: number;
  rule?: string;
  policy?: 'accept' | 'drop';
}
