/** IPv4 helpers shared by the generator and the packet picker. */
export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 address ${ip}`);
  return (((parts[0] as number) << 24) | ((parts[1] as number) << 16) | ((parts[2] as number) << 8) | (parts[3] as number)) >>> 0;
}

export function intToIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

export function parseCidr(cidr: string): { base: number; prefixLen: number } {
  const [addr, len] = cidr.split('/');
  const prefixLen = len === undefined ? 32 : Number(len);
  const mask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
  return { base: (ipToInt(addr as string) & mask) >>> 0, prefixLen };
}

/** iptables-save prints the address ANDed with its mask; so do we, to compare like with like. */
export function canonicalCidr(addr: string, prefixLen: number): string {
  const mask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
  return `${intToIp((ipToInt(addr) & mask) >>> 0)}/${prefixLen}`;
}

export function cidrSize(prefixLen: number): number {
  return 2 ** (32 - prefixLen);
}
