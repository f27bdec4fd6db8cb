/**
 * A lab scenario is plain data: which hosts exist, how they are wired, what listens, which
 * firewall is loaded and which /etc files they see. Text fields may use `{{host}}` placeholders
 * (see `renderTemplate`), because addresses are only known once a subnet has been picked.
 */

/** Which userspace loads the ruleset; it decides which kernel tables hold the rules. */
export type FirewallBackend = 'iptables-legacy' | 'iptables-nft' | 'nft';

export interface LabFirewallSpec {
  backend: FirewallBackend;
  /** iptables-restore text (IPv4) for the iptables backends, an `nft -f` script for `nft`. */
  rules: string;
  /** ip6tables-restore text; iptables backends only. */
  rules6?: string;
  /**
   * `ipset restore` text, loaded before the rules (iptables backends only: `-m set` refuses a set
   * that does not exist yet). Sets live in the host's namespace and go with it.
   */
  ipsets?: string;
}

export type LabListenerSpec =
  /** Accepts and holds connections open (optionally greeting with `banner`). */
  | { kind: 'tcp'; address: string; port: number; banner?: string }
  /**
   * inetd-style, as an inetd.conf line: each connection becomes stdin/stdout of `program`, run with
   * `argv` (argv[0] included). `program: '/usr/sbin/tcpd', argv: ['/usr/sbin/in.telnetd']` makes
   * tcpd check hosts.allow/deny for daemon `in.telnetd`, then exec it.
   */
  | { kind: 'inetd'; address: string; port: number; program: string; argv: string[] };

export interface LabInterfaceSpec {
  /** Segment (bridge) this interface plugs into. */
  segment: string;
  /** Host part of the address inside the segment's subnet, 1..61. */
  hostId: number;
}

export interface LabRouteSpec {
  /** Destination segment name. */
  to: string;
  /** Host (a router) whose address on a shared segment is the gateway. */
  via: string;
}

/**
 * A least-privilege login on one host: the product logs in as `user` with `ssh.sudo: true`, and
 * sudo grants exactly `sudoers`. The account and the sudoers file exist only inside this host's
 * namespace (its /etc/netns copy of passwd, group and sudoers.d); the real machine's user database
 * and sudo policy are never touched.
 */
export interface LabLoginSpec {
  /** Login name, e.g. `whyblocked` (the name the shipped sudoers file grants). */
  user: string;
  /** Installed as /etc/sudoers.d/why-blocked inside this host only, after `visudo -cf`. */
  sudoers: string;
  /**
   * File name → content of root-owned 0755 helpers under /usr/local/libexec/why-blocked/, visible
   * to this host's SSH sessions only (an overlay in sshd's own mount namespace).
   */
  libexec?: Record<string, string>;
}

export interface LabHostSpec {
  /** The first interface's address is the host's primary address (SSH, inventory, `{{host}}`). */
  interfaces: LabInterfaceSpec[];
  routes?: LabRouteSpec[];
  aliases?: string[];
  listeners?: LabListenerSpec[];
  firewall?: LabFirewallSpec;
  /** Path relative to /etc (e.g. `sysconfig/iptables`) → content. Seen only inside this host. */
  etcFiles?: Record<string, string>;
  /** sysctl key → value, applied inside the host's namespace (e.g. `net.ipv4.ip_forward: '1'`). */
  sysctls?: Record<string, string>;
  /** Hosts without sshd cannot be managed; only routers usually opt out. @defaultValue true */
  sshd?: boolean;
  /** Log in as an unprivileged user with sudo instead of root. @defaultValue root, no sudo */
  login?: LabLoginSpec;
}

export interface LabSegmentSpec {
  name: string;
  /**
   * For segments other than the first (the management segment, which the root namespace joins):
   * the router host through which the root namespace reaches this segment.
   */
  reachVia?: string;
}

export interface LabScenario {
  name: string;
  summary: string;
  /** First segment is the management segment. At most 4 segments (one /26 each). */
  segments: LabSegmentSpec[];
  hosts: Record<string, LabHostSpec>;
  /** Give every interface an IPv6 ULA address as well. @defaultValue false */
  ipv6?: boolean;
}
