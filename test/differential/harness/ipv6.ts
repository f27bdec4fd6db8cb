/** IPv6 helpers for the generator and the packet picker (BigInt: 128-bit arithmetic). */
export function ip6ToBig(ip: string): bigint {
  const halves = ip.split('::');
  if (halves.length > 2) throw new Error(`bad IPv6 address ${ip}`);
  const groups = (part: string | undefined): string[] => (part === undefined || part === '' ? [] : part.split(':'));
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) throw new Error(`bad IPv6 address ${ip}`);
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  let value = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`bad IPv6 address ${ip}`);
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  return value;
}

/**
 * RFC 5952 text, as inet_ntop (and hence ip6tables-save, nft and the reply capture) prints it:
 * lower case, the longest run of two or more zero groups (the first on a tie) becomes `::`.
 */
export function bigToIp6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

const ALL = (1n << 128n) - 1n;

function maskOf(prefixLen: number): bigint {
  return prefixLen === 0 ? 0n : (ALL << BigInt(128 - prefixLen)) & ALL;
}

export function parseCidr6(cidr: string): { base: bigint; prefixLen: number } {
  const [addr, len] = cidr.split('/');
  const prefixLen = len === undefined ? 128 : Number(len);
  return { base: ip6ToBig(addr as string) & maskOf(prefixLen), prefixLen };
}

/** ip6tables-save prints the address ANDed with its mask, compressed. */
export function canonicalCidr6(addr: string, prefixLen: number): string {
  return `${bigToIp6(ip6ToBig(addr) & maskOf(prefixLen))}/${prefixLen}`;
}

export function canonicalIp6(addr: string): string {
  return bigToIp6(ip6ToBig(addr));
}

export function addIp6(addr: string, delta: number): string {
  return bigToIp6((ip6ToBig(addr) + BigInt(delta)) & ALL);
}
