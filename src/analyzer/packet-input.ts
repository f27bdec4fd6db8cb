import { usageError } from '../errors.ts';
import type { CtState, Family, HostContext, Packet } from './model.ts';
import { TcpFlag } from './model.ts';
import { formatIp, isLoopback, parseIp, parseNet, prefixMask, allOnes } from './ip-address.ts';
import { hasPorts, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, protoNumber } from './protocols.ts';
import type { MatchEnv } from './match-packet.ts';

/** What callers pass in: strings and numbers, validated here. */
export interface PacketInput {
  family?: Family;
  proto: string | number;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** Flag names, e.g. ['SYN'] (default) or ['ACK']. */
  tcpFlags?: string[];
  icmpType?: number;
  icmpCode?: number;
  inIface?: string;
  outIface?: string;
  state?: CtState;
  mark?: number;
}

const states = new Set<CtState>(['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED']);

function port(name: string, v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) throw usageError(`${name} must be a port number 0-65535, got ${JSON.stringify(v)}`);
  return v;
}

function byte(name: string, v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw usageError(`${name} must be 0-255, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Conntrack state of a flow's first packet when the caller gives none (nf_conntrack_tcp_loose=1, the
 * default): SYN or a bare/PSH ACK start a NEW entry; SYN-ACK, FIN, RST or no flags are INVALID; ICMP
 * errors and echo replies without a flow are INVALID (test/differential/FINDINGS.md).
 */
function firstPacketState(proto: number, input: PacketInput): CtState {
  if (proto === IPPROTO_TCP && input.tcpFlags) {
    const f = new Set(input.tcpFlags.map((x) => x.toUpperCase()));
    if (f.has('RST') || f.has('FIN')) return 'INVALID';
    if (f.has('SYN')) return f.has('ACK') ? 'INVALID' : 'NEW';
    return f.has('ACK') ? 'NEW' : 'INVALID';
  }
  if ((proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) && input.icmpType !== undefined) {
    const newTypes = proto === IPPROTO_ICMP ? [8, 13, 15, 17] : [128];
    return newTypes.includes(input.icmpType) ? 'NEW' : 'INVALID';
  }
  return 'NEW';
}

/** Validates a PacketInput; bad addresses/ports/protocols are usage errors (exit 2 in the CLI). */
export function toPacket(input: PacketInput, ctx?: HostContext): Packet {
  const src = typeof input.src === 'string' ? parseIp(input.src) : undefined;
  if (!src) throw usageError(`source "${String(input.src)}" is not an IP address`);
  const dst = typeof input.dst === 'string' ? parseIp(input.dst) : undefined;
  if (!dst) throw usageError(`destination "${String(input.dst)}" is not an IP address`);
  if (src.family !== dst.family) throw usageError(`source ${input.src} and destination ${input.dst} are different IP versions`);
  if (input.family !== undefined && input.family !== src.family) throw usageError(`family ${input.family} does not match the addresses (${src.family})`);
  const family = src.family;
  let proto = typeof input.proto === 'number' ? input.proto : protoNumber(String(input.proto));
  if (proto === undefined || !Number.isInteger(proto) || proto < 0 || proto > 255) throw usageError(`protocol "${String(input.proto)}" is not tcp, udp, icmp, a protocol name or a number 0-255`);
  if (family === 'ipv6' && proto === IPPROTO_ICMP) proto = IPPROTO_ICMPV6;
  const state = input.state ?? firstPacketState(proto, input);
  if (!states.has(state)) throw usageError(`state "${String(state)}" must be one of ${[...states].join(', ')}`);
  let flags: number = state === 'NEW' ? TcpFlag.SYN : TcpFlag.ACK;
  if (input.tcpFlags) {
    flags = 0;
    for (const f of input.tcpFlags) {
      const v = (TcpFlag as Record<string, number>)[f.toUpperCase()];
      if (v === undefined) throw usageError(`unknown TCP flag "${f}"`);
      flags |= v;
    }
  }
  const mark = input.mark ?? 0;
  if (!Number.isInteger(mark) || mark < 0 || mark > 0xffffffff) throw usageError(`mark must be a 32-bit number, got ${String(input.mark)}`);
  const pkt: Packet = {
    family, proto, src: src.value, dst: dst.value, tcpFlags: proto === IPPROTO_TCP ? flags : 0,
    inIface: input.inIface ?? null, outIface: input.outIface ?? '', ctState: state, mark, ctMark: state === 'NEW' ? 0 : null,
    ctStatus: [], direction: 'original',
  };
  if (input.inIface !== undefined && !/^[^\s/]{1,15}$/.test(input.inIface)) throw usageError(`"${input.inIface}" is not an interface name`);
  if (hasPorts(proto)) {
    const sp = port('source port', input.sport);
    const dp = port('destination port', input.dport);
    if (sp !== undefined) pkt.sport = sp;
    if (dp !== undefined) pkt.dport = dp;
  } else if (input.dport !== undefined || input.sport !== undefined) {
    port('destination port', input.dport);
    port('source port', input.sport);
  }
  if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
    pkt.icmpType = byte('ICMP type', input.icmpType) ?? (family === 'ipv4' ? 8 : 128);
    pkt.icmpCode = byte('ICMP code', input.icmpCode) ?? 0;
  }
  if (pkt.inIface === null) {
    // Packets from the host's own addresses arrive on lo; anything else on some other interface.
    const env = buildEnv(pkt, ctx);
    if (isLoopback(family, pkt.src) || env.local[family].has(pkt.src)) pkt.inIface = 'lo';
  }
  return pkt;
}

interface IfaceNet { name: string; family: Family; addr: bigint; mask: bigint; host: bigint }

export function interfaceNets(ctx?: HostContext): IfaceNet[] {
  const out: IfaceNet[] = [];
  for (const i of ctx?.interfaces ?? []) {
    for (const a of i.addresses) {
      const slash = a.indexOf('/');
      const host = parseIp(slash < 0 ? a : a.slice(0, slash));
      const net = parseNet(a);
      if (!host || !net) throw usageError(`interface ${i.name} address "${a}" is not an address/prefix`);
      out.push({ name: i.name, family: host.family, addr: net.addr, mask: net.mask, host: host.value });
    }
  }
  return out;
}

/** Host facts for matches. Without a context the packet's destination counts as the host's address. */
export function buildEnv(pkt: Packet, ctx?: HostContext): MatchEnv {
  const env: MatchEnv = { local: { ipv4: new Set(), ipv6: new Set() }, broadcast: new Set() };
  if (ctx?.ipsets) env.ipsets = ctx.ipsets;
  const given = ctx?.localAddresses ?? [];
  for (const a of given) {
    const ip = parseIp(a.includes('/') ? a.slice(0, a.indexOf('/')) : a);
    if (!ip) throw usageError(`local address "${a}" is not an IP address`);
    env.local[ip.family].add(ip.value);
  }
  const nets = interfaceNets(ctx);
  for (const n of nets) {
    env.local[n.family].add(n.host);
    if (n.family === 'ipv4' && n.mask !== allOnes('ipv4') && n.mask !== prefixMask('ipv4', 31)) env.broadcast.add(n.addr | (~n.mask & allOnes('ipv4')));
  }
  if (given.length === 0 && nets.length === 0 && !isBroadcastOrMulticast(pkt.family, pkt.dst, env)) env.local[pkt.family].add(pkt.dst);
  return env;
}

export function isBroadcastOrMulticast(family: Family, v: bigint, env: MatchEnv): boolean {
  if (family === 'ipv4') return v === 0xffffffffn || env.broadcast.has(v) || v >> 28n === 0xen;
  return v >> 120n === 0xffn;
}

/** Local delivery: the host's addresses, loopback, broadcast and multicast (RTN_LOCAL/BROADCAST/MULTICAST). */
export function isLocalDestination(pkt: Packet, env: MatchEnv): boolean {
  return isLoopback(pkt.family, pkt.dst) || env.local[pkt.family].has(pkt.dst) || isBroadcastOrMulticast(pkt.family, pkt.dst, env);
}

/** Source addresses routing refuses on a non-loopback interface (no accept_local/route_localnet). */
export function martianReason(pkt: Packet, env: MatchEnv): string | undefined {
  if (pkt.inIface === 'lo') return undefined;
  const s = pkt.src;
  if (pkt.family === 'ipv4') {
    if (s >> 24n === 127n) return 'martian source (loopback address on a non-lo interface)';
    if (s >> 24n === 0n) return 'martian source (0.0.0.0/8)';
    if (s >> 28n >= 0xen) return 'martian source (multicast/reserved source address)';
    if (env.local.ipv4.has(s)) return 'martian source (one of the host\'s own addresses, arriving from outside)';
    return undefined;
  }
  if (s === 1n) return 'martian source (::1 on a non-lo interface)';
  if (s >> 120n === 0xffn) return 'martian source (multicast source address)';
  return undefined;
}

interface RouteNet { iface: string; family: Family; addr: bigint; mask: bigint }

/** The context's routes, validated (a bad CIDR or interface name is a usage error). */
export function routeNets(ctx?: HostContext): RouteNet[] {
  const out: RouteNet[] = [];
  for (const r of ctx?.routes ?? []) {
    const net = typeof r.dst === 'string' && r.dst.includes('/') ? parseNet(r.dst) : undefined;
    if (!net) throw usageError(`route destination "${String(r.dst)}" is not a CIDR (use 0.0.0.0/0 or ::/0 for the default route)`);
    if (typeof r.iface !== 'string' || !/^[^\s/]{1,15}$/.test(r.iface)) throw usageError(`route ${r.dst}: "${String(r.iface)}" is not an interface name`);
    out.push({ iface: r.iface, family: net.family, addr: net.addr, mask: net.mask });
  }
  return out;
}

/**
 * The interface routing sends `pkt` out of: the longest prefix among the connected subnets and the
 * context's routes (on a tie the connected subnet wins: the context carries no metrics). `null`
 * when the context knows no route to the destination.
 */
export function routeIface(pkt: Packet, ctx?: HostContext): string | null {
  let best: { iface: string; mask: bigint } | undefined;
  for (const n of interfaceNets(ctx)) {
    if (n.family !== pkt.family || (pkt.dst & n.mask) !== n.addr) continue;
    if (!best || n.mask > best.mask) best = { iface: n.name, mask: n.mask };
  }
  for (const r of routeNets(ctx)) {
    if (r.family !== pkt.family || (pkt.dst & r.mask) !== r.addr) continue;
    if (!best || r.mask > best.mask) best = { iface: r.iface, mask: r.mask };
  }
  return best?.iface ?? null;
}

/**
 * The address REDIRECT sends to: the interface's first IPv4 address; for IPv6 the first address
 * (in `ip addr` order) of the same scope as the original destination (nf_nat_redirect_ipv6), so a
 * link-local destination is redirected to the link-local address.
 */
export function primaryAddress(ctx: HostContext | undefined, iface: string | null, family: Family, dst?: bigint): bigint | undefined {
  if (iface === null) return undefined;
  if (iface === 'lo') return family === 'ipv4' ? 0x7f000001n : 1n;
  const own = interfaceNets(ctx).filter((n) => n.name === iface && n.family === family);
  if (family === 'ipv6' && dst !== undefined) return own.find((n) => isLinkLocal6(n.host) === isLinkLocal6(dst))?.host;
  return own[0]?.host;
}

function isLinkLocal6(v: bigint): boolean {
  return v >> 118n === 0x3fan;
}

/** Strings for reports (no bigints in results). */
export function packetSummary(p: Packet): Record<string, unknown> {
  const out: Record<string, unknown> = { family: p.family, proto: p.proto, src: formatIp(p.family, p.src), dst: formatIp(p.family, p.dst) };
  if (p.sport !== undefined) out.sport = p.sport;
  if (p.dport !== undefined) out.dport = p.dport;
  if (p.icmpType !== undefined) out.icmpType = p.icmpType;
  if (p.inIface !== null) out.inIface = p.inIface;
  if (p.outIface !== null && p.outIface !== '') out.outIface = p.outIface;
  out.state = p.ctState;
  if (p.mark !== 0) out.mark = p.mark;
  return out;
}
