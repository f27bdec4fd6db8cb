import { createPrng, type Prng } from './create-prng.ts';
import { intToIp, ipToInt, parseCidr } from './ipv4.ts';
import { addIp6, bigToIp6, canonicalIp6, parseCidr6 } from './ipv6.ts';
import { FW_INTERFACE_NAMES, LISTEN_PORTS, LOCAL_ADDRESSES, LOCAL_ADDRESSES6, SOURCE_NETWORKS, SOURCE_NETWORKS6 } from './lab-topology.ts';
import type { ProbePacket } from './start-packet-sender.ts';
import type { CtState, GenRuleset } from './ruleset-model.ts';

export interface GeneratedPacket { packet: ProbePacket; state: CtState }

/**
 * Conntrack state the kernel gives the first packet of a flow (conntrack flushed before each probe,
 * nf_conntrack_tcp_loose=1, the namespace default). Measured, not assumed: kernel-oracle.test.ts
 * checks this table against the kernel on every run.
 */
export function predictedCtState(packet: Pick<ProbePacket, 'proto' | 'tcpFlags' | 'icmpType'>): CtState {
  if (packet.proto === 'tcp') {
    const flags = [...(packet.tcpFlags ?? ['SYN'])].map((f) => f.toUpperCase()).sort().join(',');
    return flags === 'SYN' || flags === 'ACK' || flags === 'ACK,PSH' ? 'NEW' : 'INVALID';
  }
  if (packet.proto === 'icmp') return packet.icmpType === 8 || packet.icmpType === 13 ? 'NEW' : 'INVALID';
  if (packet.proto === 'icmpv6') return packet.icmpType === 128 ? 'NEW' : 'INVALID';
  return 'NEW';
}

const TCP_FLAG_SETS: Array<[number, string[]]> = [
  [50, ['SYN']], [12, ['ACK']], [8, ['SYN', 'ACK']], [6, ['FIN']], [6, ['RST']], [8, ['PSH', 'ACK']],
  [4, []], [3, ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG']], [3, ['FIN', 'ACK']],
];
const ICMP_KINDS: Array<[number, { type: number; code: number }]> = [
  [45, { type: 8, code: 0 }], [15, { type: 0, code: 0 }], [15, { type: 3, code: 3 }], [10, { type: 3, code: 13 }], [8, { type: 11, code: 0 }], [7, { type: 13, code: 0 }],
];
/** No neighbour discovery or MLD types: they would make the firewall answer or change its neighbour table. */
const ICMP6_KINDS: Array<[number, { type: number; code: number }]> = [
  [45, { type: 128, code: 0 }], [15, { type: 129, code: 0 }], [12, { type: 1, code: 4 }], [8, { type: 1, code: 1 }], [8, { type: 3, code: 0 }], [6, { type: 2, code: 0 }], [6, { type: 4, code: 1 }],
];
const DPORT_POOL = [22, 23, 53, 80, 443, 8080, 3306, 65535];

/** Packets aimed at the ruleset's own addresses and ports, so rules actually match now and then. */
export function generatePackets(ruleset: GenRuleset, count: number, seed: number): GeneratedPacket[] {
  const rng = createPrng(seed);
  const v6 = ruleset.family === 'ipv6';
  const sources: string[] = [];
  const ports: number[] = [];
  // `saddr . dport` set elements: only a packet with both halves matches, so some packets take a pair.
  const pairs: Array<{ src: string; port: number }> = [];
  for (const table of ruleset.tables) {
    for (const chain of table.chains) {
      for (const { match, target } of chain.rules) {
        // An anonymous vmap's keys are set elements too (same text), so packets aim at them alike.
        const elements = [...(match.nftSet?.elements ?? []), ...(target.kind === 'avmap' ? target.entries.map((e) => e.key) : [])];
        const concatenated = match.nftSet?.key === 'saddr.dport' || (target.kind === 'avmap' && target.key === 'saddr.dport');
        if (match.src) sources.push(...(v6 ? addressesAround6(match.src.cidr) : addressesAround(match.src.cidr)));
        if (match.maskedAddr?.field === 'src') sources.push(...addressesUnderMask(match.maskedAddr.addr, match.maskedAddr.mask));
        if (match.iprange?.option === 'src-range') sources.push(match.iprange.lo, match.iprange.hi, v6 ? addIp6(match.iprange.hi, 1) : intToIp((ipToInt(match.iprange.hi) + 1) >>> 0));
        for (const element of concatenated ? elements : []) pairs.push(...pairsOf(element, v6));
        for (const element of elements) {
          for (const part of element.split(' . ')) {
            const [lo, hi] = part.split('-') as [string, string | undefined];
            if (/^\d+$/.test(part) || /^\d+-\d+$/.test(part)) ports.push(Number(lo), Number(hi ?? lo), Number(lo) - 1, Number(hi ?? lo) + 1);
            else if (part.includes('/')) sources.push(...(v6 ? addressesAround6(part) : addressesAround(part)));
            else sources.push(lo, ...(hi === undefined ? [] : [hi, v6 ? addIp6(hi, 1) : intToIp((ipToInt(hi) + 1) >>> 0)]));
          }
        }
        for (const range of [match.sport, match.dport, ...(match.multiport?.items ?? [])]) {
          if (range !== undefined) ports.push(range.lo, range.hi, range.lo - 1, range.hi + 1);
        }
      }
    }
  }
  for (const table of ruleset.tables) for (const map of table.vmaps ?? []) for (const { ports: r } of map.entries) ports.push(r.lo, r.hi, r.lo - 1, r.hi + 1);
  // ipset elements: addresses (block edges for networks) and ports, so that set lookups hit.
  for (const set of ruleset.ipsets ?? []) {
    for (const element of set.elements) {
      for (const part of (element.split(' ')[0] as string).split(',')) {
        const port = /^(?:(?:tcp|udp):)?(\d+)$/.exec(part);
        if (port) ports.push(Number(port[1]), Number(port[1]) + 1);
        else if (part.includes('/')) sources.push(...(v6 ? addressesAround6(part) : addressesAround(part)));
        else if (/^[0-9a-f.:]+$/i.test(part) && /[.:]/.test(part)) sources.push(part);
      }
    }
  }
  const usableSources = sources.filter(v6 ? isSafeSource6 : isSafeSource);
  const usablePorts = ports.filter((p) => p >= 1 && p <= 65535);
  const packets: GeneratedPacket[] = [];
  for (let i = 0; i < count; i++) {
    let packet = randomPacket(rng, v6 ? 'ipv6' : 'ipv4', usableSources, usablePorts);
    const usablePairs = pairs.filter((p) => (v6 ? isSafeSource6 : isSafeSource)(p.src));
    if (usablePairs.length > 0 && (packet.proto === 'tcp' || packet.proto === 'udp') && rng.chance(0.4)) {
      const pair = rng.pick(usablePairs);
      packet = { ...packet, src: pair.src, dport: pair.port };
    }
    packets.push({ packet, state: predictedCtState(packet) });
  }
  return packets;
}

/**
 * Probes the firewall answers when it accepts them (a SYN to the lab's listener, an echo request),
 * from their own stream: OUTPUT rules (`-o`, REJECT) are judged only through such answers, and
 * generatePackets draws few of them (about one packet in ten).
 */
export function generateAnswerProbes(ruleset: GenRuleset, count: number, seed: number): GeneratedPacket[] {
  const rng = createPrng(seed);
  const f = FAMILY_DRAWS[ruleset.family === 'ipv6' ? 'ipv6' : 'ipv4'];
  const out: GeneratedPacket[] = [];
  for (let i = 0; i < count; i++) {
    const base = { src: f.randomSource(rng), dst: rng.pick(f.locals), inIface: rng.pick(FW_INTERFACE_NAMES) };
    const packet: ProbePacket = rng.chance(0.7)
      ? { ...base, proto: 'tcp', sport: rng.int(1024, 65535), dport: rng.pick(LISTEN_PORTS), tcpFlags: ['SYN'] }
      : { ...base, proto: f.icmpProto, icmpType: f.icmpProto === 'icmp' ? 8 : 128, icmpCode: 0 };
    out.push({ packet, state: predictedCtState(packet) });
  }
  return out;
}

/** What differs between the IPv4 and IPv6 packet draws; the draws themselves (and their order) are shared. */
const FAMILY_DRAWS = {
  ipv4: { randomSource, locals: LOCAL_ADDRESSES, icmpProto: 'icmp', icmpKinds: ICMP_KINDS },
  ipv6: { randomSource: randomSource6, locals: LOCAL_ADDRESSES6, icmpProto: 'icmpv6', icmpKinds: ICMP6_KINDS },
} as const;

function randomPacket(rng: Prng, family: 'ipv4' | 'ipv6', sources: string[], ports: number[]): ProbePacket {
  const f = FAMILY_DRAWS[family];
  const src = sources.length > 0 && rng.chance(0.55) ? rng.pick(sources) : f.randomSource(rng);
  const base = { src, dst: rng.pick(f.locals), inIface: rng.pick(FW_INTERFACE_NAMES) };
  const port = (fallback: () => number): number => (ports.length > 0 && rng.chance(0.6) ? rng.pick(ports) : fallback());
  const roll = rng.next();
  if (roll < 0.55) {
    return { ...base, proto: 'tcp', sport: port(() => rng.int(1024, 65535)), dport: port(() => rng.pick(DPORT_POOL)), tcpFlags: weighted(rng, TCP_FLAG_SETS) };
  }
  if (roll < 0.77) return { ...base, proto: 'udp', sport: port(() => rng.int(1024, 65535)), dport: port(() => rng.pick(DPORT_POOL)) };
  if (roll < 0.92) {
    const kind = weighted(rng, f.icmpKinds);
    return { ...base, proto: f.icmpProto, icmpType: kind.type, icmpCode: kind.code };
  }
  return { ...base, proto: 47 };
}

function randomSource6(rng: Prng): string {
  for (;;) {
    const { base, prefixLen } = parseCidr6(rng.pick(SOURCE_NETWORKS6));
    const span = prefixLen >= 112 ? Number(1n << BigInt(128 - prefixLen)) - 2 : 100000;
    const ip = bigToIp6(base + BigInt(rng.int(1, span)));
    if (isSafeSource6(ip)) return ip;
  }
}

/** Like addressesAround, for IPv6 prefixes. */
function addressesAround6(cidr: string): string[] {
  const { base, prefixLen } = parseCidr6(cidr);
  const first = bigToIp6(base);
  const last = addIp6(bigToIp6(base + (1n << BigInt(128 - prefixLen))), -1);
  return [first, addIp6(first, 1), last, addIp6(last, 1), addIp6(first, -1)];
}

/**
 * Only global and ULA unicast sources outside the firewall's own addresses: multicast, loopback,
 * unspecified and link-local sources are refused or special-cased by the IPv6 input path.
 */
function isSafeSource6(ip: string): boolean {
  const text = canonicalIp6(ip);
  if (LOCAL_ADDRESSES6.map(canonicalIp6).includes(text)) return false;
  const top = parseInt(text.split(':')[0] || '0', 16);
  // 2000::/3 (global unicast) and fc00::/7 (ULA); the subnet-router anycast address (host part 0) is left out too.
  if (!((top & 0xe000) === 0x2000 || (top & 0xfe00) === 0xfc00)) return false;
  return !text.endsWith('::');
}

function weighted<T>(rng: Prng, items: Array<[number, T]>): T {
  const total = items.reduce((sum, [w]) => sum + w, 0);
  let roll = rng.next() * total;
  for (const [w, item] of items) {
    roll -= w;
    if (roll < 0) return item;
  }
  return (items[items.length - 1] as [number, T])[1];
}

function randomSource(rng: Prng): string {
  for (;;) {
    const { base, prefixLen } = parseCidr(rng.pick(SOURCE_NETWORKS));
    const ip = intToIp((base + rng.int(1, 2 ** (32 - prefixLen) - 2)) >>> 0);
    if (isSafeSource(ip)) return ip;
  }
}

/**
 * Addresses a dotted non-contiguous mask accepts although they differ from its address in the
 * unmasked octets, and one that misses it by the lowest masked bit.
 */
function addressesUnderMask(addr: string, mask: string): string[] {
  const a = ipToInt(addr);
  const m = ipToInt(mask);
  const inside = [0x0a0b0c0d, 0x3f2e1d4c].map((fill) => intToIp(((a & m) | (fill & ~m)) >>> 0));
  const lowest = m & -m;
  return [...inside, intToIp((ipToInt(inside[0] as string) ^ lowest) >>> 0)];
}

/** First, last and just-outside addresses of a CIDR: where off-by-one bugs live. */
/**
 * Packets for one `addr . port` element: the pair itself when exact; for prefixes and ranges
 * (interval concatenations) both edges and the first value past them, on each side.
 */
function pairsOf(element: string, v6: boolean): Array<{ src: string; port: number }> {
  const [srcText, portText] = element.split(' . ') as [string, string];
  const [srcLo, srcHi] = srcText.split('-') as [string, string | undefined];
  const srcs = srcText.includes('/') ? (v6 ? addressesAround6(srcText) : addressesAround(srcText)).slice(1, 4)
    : srcHi === undefined ? [srcLo] : [srcLo, srcHi, v6 ? addIp6(srcHi, 1) : intToIp((ipToInt(srcHi) + 1) >>> 0)];
  const [portLo, portHi] = portText.split('-').map(Number) as [number, number | undefined];
  const ports = portHi === undefined ? [portLo] : [portLo, portHi, portHi + 1];
  return srcs.flatMap((src) => ports.map((port) => ({ src, port })));
}

function addressesAround(cidr: string): string[] {
  const { base, prefixLen } = parseCidr(cidr);
  const size = 2 ** (32 - prefixLen);
  return [base, base + 1, base + size - 1, base + size, base - 1].map((n) => intToIp(n >>> 0));
}

/** The kernel drops these at routing as martians (or they are ours), before any INPUT chain. */
function isSafeSource(ip: string): boolean {
  const n = ipToInt(ip);
  const first = n >>> 24;
  if (first === 0 || first === 127 || first >= 224) return false;
  if (LOCAL_ADDRESSES.includes(ip)) return false;
  // Network and broadcast addresses of the firewall's own subnets count as broadcast sources.
  return !['10.99.0.0', '10.99.0.255', '10.98.0.0', '10.98.0.255'].includes(ip);
}
