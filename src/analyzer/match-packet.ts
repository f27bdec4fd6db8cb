import type { CtStateName, FieldKey, Match, Packet } from './model.ts';
import { formatIp, formatNet, isLoopback } from './ip-address.ts';
import { AddrMatch } from './iptables/addr-match.ts';
import type { IpsetContents } from './ipset/ipset-model.ts';
import { lookupIpset } from './ipset/lookup-ipset.ts';
import { hasPorts, IPPROTO_ICMP, IPPROTO_ICMPV6, protoName } from './protocols.ts';

/**
 * Whether the packet carries a conntrack entry (or template) for connmark to read. Before the
 * conntrack hook only a CT template can be there; after it, an untracked packet has none and
 * neither has an INVALID one (conntrack detaches what it could not track). xt connmark reads a
 * template's mark (0); nft `ct mark` does not match on a template (`readsTemplate` false). Measured, FINDINGS.md.
 */
export function hasConnection(pkt: Packet, ctAttached: boolean, readsTemplate = true): boolean {
  if (!ctAttached) return readsTemplate && pkt.ctTemplate === true;
  return pkt.ctState !== 'UNTRACKED' && pkt.ctState !== 'INVALID';
}

/** Three-valued match result. */
export const YES = 1;
export const NO = 0;
export const UNKNOWN = 2;
export type Tri = typeof YES | typeof NO | typeof UNKNOWN;

/** Facts about the host that some matches need. */
export interface MatchEnv {
  local: { ipv4: Set<bigint>; ipv6: Set<bigint> };
  broadcast: Set<bigint>;
  /** `ipset save` contents; undefined = not given (set matches are unknown). */
  ipsets?: IpsetContents;
}

/** Packet as matches see it at one point of the path (state before conntrack differs). */
export interface MatchView {
  pkt: Packet;
  /** False before the conntrack hook (priority -200) has attached a conntrack entry. */
  ctAttached: boolean;
}

function xor(r: boolean, invert: boolean): Tri {
  return r !== invert ? YES : NO;
}

function ifaceMatch(value: string | null, name: string, wildcard: boolean): Tri {
  if (value === null) {
    if (wildcard && name === '') return YES;
    // An unnamed interface is "not lo": packets from local addresses were given lo explicitly.
    if (!wildcard && name === 'lo') return NO;
    return UNKNOWN;
  }
  return (wildcard ? value.startsWith(name) : value === name) ? YES : NO;
}

function inRanges(v: number, ranges: readonly (readonly [number, number])[]): boolean {
  for (const r of ranges) if (v >= r[0] && v <= r[1]) return true;
  return false;
}

function ctStatesOf(view: MatchView): Set<CtStateName> {
  const { pkt } = view;
  if (!view.ctAttached && pkt.ctState !== 'UNTRACKED') return new Set(['INVALID']);
  const s = new Set<CtStateName>([pkt.ctState]);
  if (pkt.ctState !== 'UNTRACKED' && pkt.ctState !== 'INVALID') {
    if (pkt.ctStatus.includes('dnat')) s.add('DNAT');
    if (pkt.ctStatus.includes('snat')) s.add('SNAT');
  }
  return s;
}

export function addrTypeOf(pkt: Packet, v: bigint, env: MatchEnv): string {
  if (pkt.family === 'ipv4') {
    if (env.local.ipv4.has(v) || isLoopback('ipv4', v)) return 'LOCAL';
    if (v === 0xffffffffn || v === 0n || env.broadcast.has(v)) return 'BROADCAST';
    if (v >> 28n === 0xen) return 'MULTICAST';
    return 'UNICAST';
  }
  if (env.local.ipv6.has(v) || v === 1n) return 'LOCAL';
  if (v >> 120n === 0xffn) return 'MULTICAST';
  return 'UNICAST';
}

/** Reads an nft field; undefined = the header is absent (the match fails), null = not knowable. */
export function fieldValue(pkt: Packet, field: FieldKey): bigint | undefined | null {
  const v4 = pkt.family === 'ipv4';
  const ports = hasPorts(pkt.proto);
  const port = (p: number | undefined, ok: boolean): bigint | undefined | null => {
    if (!ok) return undefined;
    return p === undefined ? null : BigInt(p);
  };
  switch (field) {
    case 'ip.saddr': return v4 ? pkt.src : undefined;
    case 'ip.daddr': return v4 ? pkt.dst : undefined;
    case 'ip6.saddr': return v4 ? undefined : pkt.src;
    case 'ip6.daddr': return v4 ? undefined : pkt.dst;
    case 'ip.protocol': return v4 ? BigInt(pkt.proto) : undefined;
    case 'ip6.nexthdr': return v4 ? undefined : BigInt(pkt.proto);
    case 'meta.l4proto': return BigInt(pkt.proto);
    case 'meta.nfproto': return v4 ? 2n : 10n;
    case 'tcp.sport': return port(pkt.sport, pkt.proto === 6);
    case 'tcp.dport': return port(pkt.dport, pkt.proto === 6);
    case 'udp.sport': return port(pkt.sport, pkt.proto === 17);
    case 'udp.dport': return port(pkt.dport, pkt.proto === 17);
    case 'th.sport': return port(pkt.sport, ports);
    case 'th.dport': return port(pkt.dport, ports);
    case 'icmp.type': return v4 && pkt.proto === IPPROTO_ICMP ? BigInt(pkt.icmpType ?? 8) : undefined;
    case 'icmp.code': return v4 && pkt.proto === IPPROTO_ICMP ? BigInt(pkt.icmpCode ?? 0) : undefined;
    case 'icmpv6.type': return !v4 && pkt.proto === IPPROTO_ICMPV6 ? BigInt(pkt.icmpType ?? 128) : undefined;
    case 'icmpv6.code': return !v4 && pkt.proto === IPPROTO_ICMPV6 ? BigInt(pkt.icmpCode ?? 0) : undefined;
    case 'tcp.flags': return pkt.proto === 6 ? BigInt(pkt.tcpFlags) : undefined;
    case 'meta.mark': return pkt.mark === null ? null : BigInt(pkt.mark);
    case 'ct.mark': return pkt.ctMark === null ? null : BigInt(pkt.ctMark);
  }
}

export function evaluateMatch(m: Match, view: MatchView, env: MatchEnv): Tri {
  const pkt = view.pkt;
  switch (m.kind) {
    case 'addr': {
      const v = m.field === 'src' ? pkt.src : pkt.dst;
      // Parsed iptables addresses keep IPv4 as int32 numbers: no bigint arithmetic (which allocates).
      if (m instanceof AddrMatch && m.family === 'ipv4' && pkt.family === 'ipv4') return xor((Number(v) & m.m32) === m.a32, m.invert);
      // An nft `ip saddr & mask` carries its family: an IPv6 packet fails the dependency, negated or not.
      if (m.family !== undefined && m.family !== pkt.family) return NO;
      return xor((v & m.mask) === m.addr, m.invert);
    }
    case 'addrRange': {
      const v = m.field === 'src' ? pkt.src : pkt.dst;
      let hit = false;
      for (const r of m.ranges) if (v >= r[0] && v <= r[1]) { hit = true; break; }
      return xor(hit, m.invert);
    }
    case 'iface': {
      const r = ifaceMatch(m.dir === 'in' ? pkt.inIface : pkt.outIface, m.name, m.wildcard);
      return r === UNKNOWN ? UNKNOWN : xor(r === YES, m.invert);
    }
    case 'proto':
      return xor(m.proto === 0 || pkt.proto === m.proto, m.invert);
    case 'fragment':
      // Simulated packets are never non-first fragments (and defrag reassembles before iptables).
      return xor(false, m.invert);
    case 'ports': {
      if (!hasPorts(pkt.proto)) return NO;
      if (m.field === 'dport') return pkt.dport === undefined ? UNKNOWN : xor(inRanges(pkt.dport, m.ranges), m.invert);
      if (m.field === 'sport') return pkt.sport === undefined ? UNKNOWN : xor(inRanges(pkt.sport, m.ranges), m.invert);
      const hitD = pkt.dport !== undefined && inRanges(pkt.dport, m.ranges);
      const hitS = pkt.sport !== undefined && inRanges(pkt.sport, m.ranges);
      if (hitD || hitS) return xor(true, m.invert);
      if (pkt.dport === undefined || pkt.sport === undefined) return UNKNOWN;
      return xor(false, m.invert);
    }
    case 'tcpFlags':
      if (pkt.proto !== 6) return NO;
      return xor((pkt.tcpFlags & m.mask) === m.comp, m.invert);
    case 'ctState': {
      let hit = false;
      if (m.exact) {
        const own = !view.ctAttached && pkt.ctState !== 'UNTRACKED' ? 'INVALID' : pkt.ctState;
        hit = m.states.length > 0 && m.states.every((st) => st === own);
      } else if (!view.ctAttached && pkt.ctState !== 'UNTRACKED') hit = m.states.includes('INVALID');
      else {
        for (const s of m.states) {
          if (s === pkt.ctState || (s === 'DNAT' && pkt.ctStatus.includes('dnat')) || (s === 'SNAT' && pkt.ctStatus.includes('snat'))) {
            if ((s === 'DNAT' || s === 'SNAT') && (pkt.ctState === 'UNTRACKED' || pkt.ctState === 'INVALID')) continue;
            hit = true;
            break;
          }
        }
      }
      return xor(hit, m.invert);
    }
    case 'ctStatus': {
      if (!view.ctAttached || pkt.ctState === 'INVALID' || pkt.ctState === 'UNTRACKED') return NO;
      const known = new Set<string>();
      if (pkt.direction === 'reply') { known.add('SEEN_REPLY'); known.add('CONFIRMED'); }
      else if (pkt.ctState !== 'NEW') return UNKNOWN;
      for (const s of pkt.ctStatus) known.add(s.toUpperCase());
      if (m.exact === true) {
        // The word also holds bits nobody can see offline (the *_NAT_DONE pair), so equality is only
        // decidable when the value names a bit the packet's connection cannot have.
        return impossibleStatusWord(m.statuses, pkt.direction === 'original' ? known : undefined) ? xor(false, m.invert) : UNKNOWN;
      }
      if (m.statuses.includes('ASSURED') && pkt.direction === 'reply') return UNKNOWN;
      return xor(m.statuses.some((s) => known.has(s)), m.invert);
    }
    case 'ctDir':
      if (!view.ctAttached || pkt.ctState === 'INVALID' || pkt.ctState === 'UNTRACKED') return NO;
      return xor(pkt.direction === m.dir, m.invert);
    case 'addrType': {
      if (m.limitIface) return UNKNOWN;
      const v = m.field === 'src' ? pkt.src : pkt.dst;
      // IPv6 fib type is a route lookup (nft_fib6_eval_type): the host's own addresses hit their local
      // routes (table local, consulted first) and are LOCAL; any other address needs the routes.
      if (m.fib === true && pkt.family !== 'ipv4' && !isOwnIpv6(v, env)) return UNKNOWN;
      const t = addrTypeOf(pkt, v, env);
      return xor(m.types.includes(t), m.invert);
    }
    case 'icmp': {
      if (pkt.proto !== (m.family === 'ipv4' ? IPPROTO_ICMP : IPPROTO_ICMPV6)) return NO;
      if (m.type === 'any') return xor(true, m.invert);
      const type = pkt.icmpType ?? (m.family === 'ipv4' ? 8 : 128);
      const code = pkt.icmpCode ?? 0;
      return xor(type === m.type && code >= m.codeMin && code <= m.codeMax, m.invert);
    }
    case 'mark': {
      // xt_connmark and nft `ct mark` fail (negated too) when the packet has no conntrack entry.
      if (m.ct && !hasConnection(pkt, view.ctAttached, m.nft !== true)) return NO;
      const v = m.ct ? (view.ctAttached ? pkt.ctMark : 0) : pkt.mark;
      if (v === null) return UNKNOWN;
      return xor(((v & m.mask) >>> 0) === m.value, m.invert);
    }
    case 'comment':
    case 'always':
      return YES;
    case 'values': {
      if (m.fields.includes('ct.mark') && !hasConnection(pkt, view.ctAttached, false)) return NO;
      const vals: bigint[] = [];
      let unknown = false;
      for (const f of m.fields) {
        const v = fieldValue(pkt, f);
        if (v === undefined) return NO;
        if (v === null) unknown = true;
        vals.push(v ?? 0n);
      }
      if (unknown) return UNKNOWN;
      let hit = false;
      for (const el of m.elements) {
        let ok = true;
        for (let i = 0; i < vals.length; i++) {
          const r = el[i];
          const v = vals[i] as bigint;
          if (!r || v < r[0] || v > r[1]) { ok = false; break; }
        }
        if (ok) { hit = true; break; }
      }
      return xor(hit, m.invert);
    }
    case 'ipset': {
      const r = lookupIpset(env.ipsets, m.set, pkt, m);
      if (r.found === undefined) return UNKNOWN;
      // Element counters move with every packet: a counter test on a hit cannot be judged offline.
      if (m.counterTest !== undefined && r.element) return UNKNOWN;
      return xor(r.found, m.invert);
    }
    case 'unknown':
      return UNKNOWN;
  }
}

/**
 * An element with a timeout decides now but will expire: the verdict holds only until then.
 * (Judged as present: that is what the kernel does until the timer fires.)
 */
export function ipsetExpiryWarning(m: Match, view: MatchView, env: MatchEnv): string | undefined {
  if (m.kind !== 'ipset') return undefined;
  const r = lookupIpset(env.ipsets, m.set, view.pkt, m);
  if (r.element?.timeoutS === undefined) return undefined;
  return `${m.text} decided on element ${r.element.text} of set ${r.setName ?? m.set}, which expires ${r.element.timeoutS} s after the ipset contents were saved; the verdict changes then`;
}

function fmtPorts(ranges: readonly (readonly [number, number])[]): string {
  return ranges.map((r) => (r[0] === r[1] ? String(r[0]) : `${r[0]}:${r[1]}`)).join(',');
}

/** "the first failing field, in words" for a match that evaluated to NO (or UNKNOWN). */
export function describeMatchFailure(m: Match, view: MatchView, env: MatchEnv): string {
  const pkt = view.pkt;
  const ip = (v: bigint): string => formatIp(pkt.family, v);
  const neg = m.invert;
  switch (m.kind) {
    case 'addr': {
      const v = m.field === 'src' ? pkt.src : pkt.dst;
      if (m.family !== undefined && m.family !== pkt.family) return `${m.text}: not an ${m.family === 'ipv4' ? 'IPv4' : 'IPv6'} packet`;
      const net = formatNet(pkt.family, m.addr, m.mask);
      const flag = m.field === 'src' ? '-s' : '-d';
      return neg ? `! ${flag} ${net}: ${net} contains ${ip(v)}` : `${flag} ${net} does not contain ${ip(v)}`;
    }
    case 'addrRange': {
      const v = m.field === 'src' ? pkt.src : pkt.dst;
      return `${m.text}: ${m.field === 'src' ? 'source' : 'destination'} ${ip(v)} is ${neg ? '' : 'not '}in the range`;
    }
    case 'iface': {
      const v = m.dir === 'in' ? pkt.inIface : pkt.outIface;
      const what = m.dir === 'in' ? 'input interface' : 'output interface';
      if (v === null) {
        return !m.wildcard && m.name === 'lo' && !m.invert
          ? `${m.text} does not match: a packet from a non-local address does not arrive on lo`
          : m.dir === 'in'
            ? `${m.text}: the input interface is not known (give it, e.g. --in-iface)`
            : `${m.text}: the output interface depends on routing (give the host's interfaces and addresses)`;
      }
      return `${m.text} does not match ${what} ${v === '' ? '(none at this hook)' : v}`;
    }
    case 'proto':
      return `${m.text} does not match protocol ${protoName(pkt.proto)}`;
    case 'fragment':
      return `${m.text}: the packet is not a non-first fragment`;
    case 'ports': {
      if (!hasPorts(pkt.proto)) return `${m.text}: protocol ${protoName(pkt.proto)} has no ports`;
      const what = m.field === 'sport' ? `source port ${pkt.sport ?? '(not given)'}` : m.field === 'dport'
        ? `destination port ${pkt.dport ?? '(not given)'}` : `ports ${pkt.sport ?? '?'}/${pkt.dport ?? '?'}`;
      return `${m.text} does not match ${what}${neg ? ` (excluded: ${fmtPorts(m.ranges)})` : ''}`;
    }
    case 'tcpFlags':
      if (pkt.proto !== 6) return `${m.text}: not a TCP packet`;
      return `${m.text} does not match TCP flags ${tcpFlagsText(pkt.tcpFlags)}`;
    case 'ctState':
      return `${m.text} does not include the packet's state ${[...ctStatesOf(view)].join(',')}`;
    case 'ctStatus':
      return `${m.text} does not match the connection's status`;
    case 'ctDir':
      return `${m.text} does not match direction ${pkt.direction.toUpperCase()}`;
    case 'addrType': {
      const v = m.field === 'src' ? pkt.src : pkt.dst;
      if (m.fib === true && pkt.family !== 'ipv4' && !isOwnIpv6(v, env)) return `${m.text}: fib needs the routing table for an IPv6 address that is not the host's own, which a ruleset dump does not contain`;
      return `${m.text}: ${ip(v)} is of type ${addrTypeOf(pkt, v, env)}`;
    }
    case 'icmp':
      if (pkt.proto !== IPPROTO_ICMP && pkt.proto !== IPPROTO_ICMPV6) return `${m.text}: not an ICMP packet`;
      return `${m.text} does not match ICMP type ${pkt.icmpType ?? (pkt.family === 'ipv4' ? 8 : 128)}/${pkt.icmpCode ?? 0}`;
    case 'mark': {
      if (m.ct && !hasConnection(pkt, view.ctAttached, m.nft !== true)) return `${m.text}: the packet has no conntrack entry (${view.ctAttached ? pkt.ctState.toLowerCase() : 'before conntrack'})`;
      const v = m.ct ? pkt.ctMark : pkt.mark;
      return v === null ? `${m.text}: the mark is not known offline` : `${m.text} does not match ${m.ct ? 'connection ' : ''}mark 0x${v.toString(16)}`;
    }
    case 'comment':
    case 'always':
      return m.text;
    case 'values': {
      const shown = m.fields.map((f) => {
        const v = fieldValue(pkt, f);
        if (v === undefined) return `${f} (absent)`;
        if (v === null) return `${f} (not known)`;
        if (f.endsWith('addr')) return ip(v);
        return f === 'meta.l4proto' || f === 'ip.protocol' || f === 'ip6.nexthdr' ? protoName(Number(v)) : String(v);
      });
      return `${m.text} does not match ${shown.join(' . ')}`;
    }
    case 'ipset': {
      const r = lookupIpset(env.ipsets, m.set, pkt, m);
      if (r.found !== undefined && m.counterTest !== undefined && r.element) {
        return `${m.text}: the packet hits ${r.reason}, but ${m.counterTest} tests the element's counters, which change with every packet`;
      }
      if (r.found === undefined) return `${m.text}: ${r.reason}`;
      return `${m.text} does not match: ${r.element ? `the packet hits ${r.reason}${r.element.nomatch !== m.returnNomatch ? ' (a miss)' : ''}` : r.reason}`;
    }
    case 'unknown':
      return `${m.text}: ${m.reason}`;
  }
}

export function tcpFlagsText(flags: number): string {
  const names = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];
  const on = names.filter((_, i) => (flags & (1 << i)) !== 0);
  return on.length === 0 ? 'NONE' : on.join(',');
}

/**
 * Whether a status word can never equal exactly `statuses`: nf_nat_setup_info sets SNAT/DNAT together
 * with SNAT_DONE/DNAT_DONE, so a value with one and not the other is never equal; and for the first
 * packet of a connection (`firstPacket`: the bits it is known to have) CONFIRMED, SEEN_REPLY, ASSURED
 * and a NAT bit it did not get are still clear.
 */
function impossibleStatusWord(statuses: string[], firstPacket: Set<string> | undefined): boolean {
  const has = (s: string): boolean => statuses.includes(s);
  if ((has('SNAT') && !has('SNAT_DONE')) || (has('DNAT') && !has('DNAT_DONE'))) return true;
  if (firstPacket === undefined) return false;
  return statuses.some((s) => ['CONFIRMED', 'SEEN_REPLY', 'ASSURED'].includes(s) || ((s === 'SNAT' || s === 'DNAT') && !firstPacket.has(s)));
}

function isOwnIpv6(v: bigint, env: MatchEnv): boolean {
  return env.local.ipv6.has(v) || v === 1n;
}
