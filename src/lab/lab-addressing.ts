import { ErrorCode, WhyBlockedError } from '../errors.ts';

/**
 * Pure address arithmetic for labs. A lab owns one /24 of the configured range; segment i is the
 * i-th /26 of it, and the root namespace sits at .62 of the management segment (segment 0).
 */

export const defaultLabCidr = '10.240.0.0/16';
export const maxSegments = 4;
export const maxHostId = 61;
export const rootHostId = 62;

export interface Ipv4Cidr { base: number; prefix: number }

const privateRanges: Ipv4Cidr[] = [
  { base: ipv4ToInt('10.0.0.0'), prefix: 8 },
  { base: ipv4ToInt('172.16.0.0'), prefix: 12 },
  { base: ipv4ToInt('192.168.0.0'), prefix: 16 },
];

export function ipv4ToInt(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) {
    throw new Error(`not an IPv4 address: ${text}`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function formatCidr(c: Ipv4Cidr): string {
  return `${intToIpv4(c.base)}/${c.prefix}`;
}

/**
 * Parses the lab range. It must be an RFC 1918 network of /24 or larger, written with its network
 * address, so that the lab can never claim public space by accident.
 */
export function parseLabCidr(text: string, source: string): Ipv4Cidr {
  const fail = (why: string): never => {
    throw new WhyBlockedError(source === 'WHY_BLOCKED_LAB_CIDR' ? ErrorCode.ConfigInvalid : ErrorCode.Usage,
      `${source}="${text}" is not a usable lab range: ${why}. Use a private IPv4 network of /24 or larger, e.g. ${defaultLabCidr}.`,
      { details: { cidr: text, source } });
  };
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) return fail('expected the form A.B.C.D/N');
  let base: number;
  try {
    base = ipv4ToInt(m[1]!);
  } catch {
    return fail(`${m[1]} is not an IPv4 address`);
  }
  const prefix = Number(m[2]);
  if (prefix > 24 || prefix < 8) return fail('the prefix must be between /8 and /24');
  if (((base & mask(prefix)) >>> 0) !== base) return fail(`host bits are set; the network address is ${intToIpv4((base & mask(prefix)) >>> 0)}/${prefix}`);
  const inside = privateRanges.some((r) => r.prefix <= prefix && ((base & mask(r.prefix)) >>> 0) === r.base);
  if (!inside) return fail('it is not inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16');
  return { base, prefix };
}

export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/** Something already on the machine that a lab subnet must not overlap. */
export interface OccupiedRange { cidr: Ipv4Cidr; what: string }

/**
 * Picks the first /24 of `range` that overlaps nothing occupied. Default routes are not in
 * `occupied`: every subnet "overlaps" 0.0.0.0/0, and a more specific connected route wins anyway.
 */
export function pickLabSubnet(range: Ipv4Cidr, occupied: OccupiedRange[], source: string): Ipv4Cidr {
  const count = 2 ** (24 - range.prefix);
  let firstConflict: OccupiedRange | undefined;
  for (let i = 0; i < count; i += 1) {
    const candidate = { base: range.base + i * 256, prefix: 24 };
    const conflict = occupied.find((o) => cidrsOverlap(o.cidr, candidate));
    if (!conflict) return candidate;
    firstConflict ??= conflict;
  }
  const what = firstConflict?.what ?? 'existing networks';
  throw new WhyBlockedError(ErrorCode.ConfigInvalid,
    `${source} ${formatCidr(range)} ${count === 1 ? `overlaps ${what}` : `has no /24 free of existing networks (e.g. ${what})`} on this machine; `
    + 'nothing was created. Pick another private range with WHY_BLOCKED_LAB_CIDR or --cidr.',
    { details: { cidr: formatCidr(range), conflict: firstConflict?.what } });
}

export function segmentSubnet(lab: Ipv4Cidr, segmentIndex: number): Ipv4Cidr {
  return { base: lab.base + segmentIndex * 64, prefix: 26 };
}

export function hostIpv4(lab: Ipv4Cidr, segmentIndex: number, hostId: number): string {
  return intToIpv4(segmentSubnet(lab, segmentIndex).base + hostId);
}

/** RFC 5952 text form, so the addresses in the inventory match what `ip` and `ss` print. */
export function formatIpv6(groups: number[]): string {
  let best = { start: -1, len: 1 };
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) { i += 1; continue; }
    let j = i;
    while (j < groups.length && groups[j] === 0) j += 1;
    if (j - i > best.len) best = { start: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.len).join(':')}`;
}

/** A ULA /64 per segment, derived from the lab's /24 so that concurrent labs never collide. */
function ipv6Groups(lab: Ipv4Cidr, segmentIndex: number, hostId: number): number[] {
  return [0xfd77, 0x6200, Math.floor(lab.base / 256) % 65536, segmentIndex, 0, 0, 0, hostId];
}

export function segmentIpv6Prefix(lab: Ipv4Cidr, segmentIndex: number): string {
  return formatIpv6(ipv6Groups(lab, segmentIndex, 0));
}

export function hostIpv6(lab: Ipv4Cidr, segmentIndex: number, hostId: number): string {
  return formatIpv6(ipv6Groups(lab, segmentIndex, hostId));
}
