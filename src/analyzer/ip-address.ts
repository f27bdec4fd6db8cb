import type { Family } from './model.ts';

export interface ParsedIp {
  family: Family;
  value: bigint;
}

const V4_ALL = 0xffffffffn;
const V6_ALL = (1n << 128n) - 1n;

export function allOnes(family: Family): bigint {
  return family === 'ipv4' ? V4_ALL : V6_ALL;
}

export function familyBits(family: Family): number {
  return family === 'ipv4' ? 32 : 128;
}

function parseV4(text: string): bigint | undefined {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return undefined;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
      continue;
    }
    if (c < 48 || c > 57 || digits === 3) return undefined;
    part = part * 10 + (c - 48);
    digits++;
    if (part > 255) return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return BigInt(n * 256 + part);
}

function parseV6(text: string): bigint | undefined {
  if (text.includes('%')) return undefined;
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const dbl = head.split('::');
  if (dbl.length > 2) return undefined;
  const toGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = toGroups(dbl[0] ?? '');
  const right = dbl.length === 2 ? toGroups(dbl[1] ?? '') : [];
  if (!left || !right) return undefined;
  let groups: number[];
  if (dbl.length === 2) {
    const fill = 8 - left.length - right.length;
    if (fill < 1) return undefined;
    groups = [...left, ...new Array<number>(fill).fill(0), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== 8) return undefined;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  if (tailV4 !== undefined) v = (v & ~V4_ALL) | tailV4;
  return v;
}

/** Parses a bare IPv4/IPv6 address; undefined when it is not one. */
export function parseIp(text: string): ParsedIp | undefined {
  if (text.includes(':')) {
    const v = parseV6(text);
    return v === undefined ? undefined : { family: 'ipv6', value: v };
  }
  const v = parseV4(text);
  return v === undefined ? undefined : { family: 'ipv4', value: v };
}

const maskCache = { ipv4: [] as bigint[], ipv6: [] as bigint[] };

export function prefixMask(family: Family, len: number): bigint {
  const cached = maskCache[family][len];
  if (cached !== undefined) return cached;
  const bits = BigInt(familyBits(family));
  const m = len <= 0 ? 0n : (allOnes(family) << (bits - BigInt(len))) & allOnes(family);
  maskCache[family][len] = m;
  return m;
}

export interface ParsedNet {
  family: Family;
  addr: bigint;
  mask: bigint;
}

/** `a.b.c.d`, `a.b.c.d/len`, `a.b.c.d/m.m.m.m` (non-contiguous allowed), `v6/len`. */
export function parseNet(text: string): ParsedNet | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  let mask = allOnes(ip.family);
  if (slash >= 0) {
    const m = text.slice(slash + 1);
    if (/^\d{1,3}$/.test(m)) {
      const len = Number(m);
      if (len > familyBits(ip.family)) return undefined;
      mask = prefixMask(ip.family, len);
    } else {
      const mk = parseIp(m);
      if (!mk || mk.family !== ip.family) return undefined;
      mask = mk.value;
    }
  }
  return { family: ip.family, addr: ip.value & mask, mask };
}

export function formatIp(family: Family, value: bigint): string {
  if (family === 'ipv4') {
    const n = Number(value);
    return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (≥2) of zero groups.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Prefix length when the mask is contiguous, else undefined. */
export function maskPrefixLength(family: Family, mask: bigint): number | undefined {
  let ones = 0;
  for (let v = mask; v !== 0n; v >>= 32n) {
    let w = Number(v & 0xffffffffn);
    while (w !== 0) { w &= w - 1; ones++; }
  }
  return prefixMask(family, ones) === mask ? ones : undefined;
}

export function formatNet(family: Family, addr: bigint, mask: bigint): string {
  const len = maskPrefixLength(family, mask);
  return `${formatIp(family, addr)}/${len ?? formatIp(family, mask)}`;
}

export function isLoopback(family: Family, value: bigint): boolean {
  return family === 'ipv4' ? value >> 24n === 127n : value === 1n;
}
