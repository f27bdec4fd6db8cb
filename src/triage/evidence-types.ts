/**
 * What each probe puts in `EvidenceItem.data`. Probes produce these, the triage engine reads them.
 * Everything here is plain JSON: evidence travels through Redis between workers.
 */
import type { RuleRef } from './report-types.ts';

export type AddressFamily = 'ipv4' | 'ipv6';

/** Who made the test connection, and the address the target sees it from. */
export interface VantageInfo {
  kind: 'worker' | 'inventory-host' | 'address';
  name?: string;
  /** Source address of the test traffic as the target sees it, when known. */
  address?: string;
}

export interface ReachData {
  target: string;
  transmitted: number;
  received: number;
  lossPct: number;
  rttAvgMs?: number;
  rttMinMs?: number;
  rttMaxMs?: number;
  /** ICMP errors ping printed instead of replies, e.g. "Destination Host Prohibited". */
  icmpErrors: string[];
}

export type ConnectOutcome =
  | 'connected' | 'refused' | 'host-unreachable' | 'net-unreachable' | 'timeout'
  | 'permission-denied' | 'not-permitted' | 'protocol-unavailable' | 'reset' | 'error';

export interface ConnectData {
  target: string;
  port: number;
  vantage: VantageInfo;
  outcome: ConnectOutcome;
  /** ECONNREFUSED, EHOSTUNREACH, …; absent on success. */
  errno?: string;
  message?: string;
  timeToOutcomeMs?: number;
  /** After a successful connect: did the server close (or reset) before sending anything? */
  afterConnect?: 'server-closed' | 'server-reset' | 'stayed-open' | 'sent-data';
  /** The TCP wrappers signature: accepted, then closed at once without a byte. */
  serverClosedAtOnce?: boolean;
}

export type ListenScope = 'all' | 'loopback' | 'specific';

export interface ListenProcess { name: string; pid: number; fd?: number }

export interface ListenSocket {
  /** As ss printed it, e.g. `127.0.0.53%lo:53`. */
  local: string;
  address: string;
  port: number;
  iface?: string;
  /** `dual` is `*` (a v6 socket accepting v4 too, or an old ss printing 0.0.0.0). */
  family: AddressFamily | 'dual';
  scope: ListenScope;
  processes: ListenProcess[];
}

export interface ListenerData {
  port: number;
  targetAddress?: string;
  sockets: ListenSocket[];
  /** none: nothing on the port; otherwise the widest scope found. */
  status: 'none' | 'all' | 'loopback-only' | 'specific';
  /** Would a connection to targetAddress:port find a socket? undefined when no target address was given. */
  acceptsTarget?: boolean;
  processes: ListenProcess[];
  /** false when ss ran without -p (no sudo), so process names are unknown. */
  processInfo: boolean;
}

export interface LocalConnectData {
  viaAddress?: ConnectData;
  viaLoopback?: ConnectData;
}

export interface WrappersRuleRef { file: string; line: number; text: string }

export interface TcpWrappersData {
  /** The daemon name libwrap would check (argv[0] basename, e.g. `in.telnetd`). */
  daemon?: string;
  client: string;
  decision: 'allow' | 'deny' | 'unknown';
  decidedBy?: WrappersRuleRef;
  /** Does the listening service consult hosts.allow/deny at all? */
  honoured: 'yes' | 'no' | 'unknown';
  honouredReason: string;
  /** Forms whose meaning depends on the distribution's libwrap, or on DNS. */
  flags: string[];
}

export interface RulesetDump {
  /** iptables-legacy, iptables-nft, ip6tables-legacy, ip6tables-nft, nft, or a saved file path. */
  source: string;
  format: 'iptables-save' | 'nft-json';
  family?: AddressFamily;
  text: string;
  /**
   * The command-line tool for these rules when it is not named like the source: hosts with
   * iptables < 1.8 (RHEL 7, old Fedora) have only `iptables`, which is the legacy backend.
   */
  tool?: string;
}

export interface FirewallBackendInfo {
  /** What `iptables` itself is: `iptables -V` says legacy or nf_tables. */
  iptablesVariant?: 'legacy' | 'nf_tables';
  legacyTablesLoaded: boolean;
  legacy6TablesLoaded: boolean;
  nftPresent: boolean;
  firewalldActive: boolean;
  ufwActive: boolean;
}

export interface HostInterfaceInfo { name: string; addresses: string[] }

/** The packet the simulator was asked about; plain strings and numbers. */
export interface FlowSpec {
  family: AddressFamily;
  proto: 'tcp';
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  inIface?: string;
  state?: 'NEW' | 'ESTABLISHED' | 'RELATED';
}

/** The analyzer's answer for one packet, reduced to what the report needs. */
export interface FlowVerdict {
  verdict: 'accept' | 'drop' | 'reject' | 'unknown';
  rejectWith?: string;
  decidedBy?: RuleRef;
  /** ACCEPT rules that would have matched this flow but come after the decider. */
  shadowedAccepts: RuleRef[];
  unknowns: string[];
  warnings: string[];
  /** What the client should see, e.g. "EHOSTUNREACH (ICMP host-prohibited)". */
  symptom?: string;
  trace: string[];
}

export interface FirewallData {
  backend: FirewallBackendInfo;
  dumps: RulesetDump[];
  localAddresses: string[];
  interfaces: HostInterfaceInfo[];
  /** e.g. { all: 0, default: 1, eth0: 2 } for net.ipv4.conf.*.rp_filter. */
  rpFilter: Record<string, number>;
  forwardFlow?: FlowSpec;
  forward?: FlowVerdict;
  replyFlow?: FlowSpec;
  reply?: FlowVerdict;
  /** The same flow simulated for the target's other address family, when it has one. */
  otherFamily?: FlowVerdict & { flow: FlowSpec };
  rulesetHash?: string;
  /** `ipset save` output, collected when a dump uses `-m set --match-set`. */
  ipsetSave?: string;
  analysisError?: string;
  /** Dumps that could not be collected, with why (no sudo, tool missing…). */
  missing: string[];
}

export type CaptureClass =
  | 'no-syn' | 'icmp-unreachable' | 'rst' | 'syn-ack-completed' | 'syn-ack-incomplete' | 'syn-unanswered';

export interface IcmpSeen {
  family: AddressFamily;
  type: number;
  code: number;
  /** e.g. "host-prohibited", "admin-prohibited", "port-unreachable". */
  name: string;
  from: string;
}

export interface CounterHit {
  source: string;
  table: string;
  chain: string;
  /** 1-based, as `iptables -L --line-numbers`. */
  position?: number;
  rule: string;
  packets: number;
  policy?: boolean;
}

export interface CaptureData {
  classification: CaptureClass;
  synCount: number;
  icmp?: IcmpSeen;
  /** After a completed handshake, the server sent FIN/RST before any data. */
  serverClosedAfterHandshake?: boolean;
  counterHits: CounterHit[];
  /** The counter dumps differed in rules, not only in counts. */
  rulesChanged: boolean;
  connect?: ConnectData;
  clientAddresses: string[];
}

export interface SavedRulesetInfo { path: string; kind: 'iptables' | 'ip6tables' | 'nftables' | 'firewalld' | 'ufw' }

export interface PersistenceData {
  savedFiles: SavedRulesetInfo[];
  /** The saved ruleset compared/simulated (usually the one for the backend in use). */
  compared?: string;
  saved?: FlowVerdict;
  /** Lines only in the runtime rules, and lines only in the saved file (counters/comments ignored). */
  drift: { onlyRuntime: string[]; onlySaved: string[] };
  note?: string;
}
