import type { Family } from '../model.ts';
import { formatNet } from '../ip-address.ts';

/**
 * `-s`/`-d` match. Large rulesets hold one per rule, so it stays small: the text (always the
 * canonical `[!] -s addr/len` that iptables-save prints) is derived on demand, and an IPv4 address
 * is kept as a signed 32-bit number (`a32`/`m32`: small integers are stored inline, unlike larger
 * numbers or bigints) that the matcher and rule index read, with the model's bigint `addr` made on
 * first use.
 */
export class AddrMatch {
  readonly kind = 'addr' as const;
  readonly family: Family;
  readonly field: 'src' | 'dst';
  readonly mask: bigint;
  readonly invert: boolean;
  /** IPv4 network address as a signed 32-bit number (`>>> 0` gives the unsigned value); 0 for IPv6. */
  readonly a32: number;
  /** IPv4 mask, signed 32-bit; 0 for IPv6. */
  readonly m32: number;
  private big: bigint | undefined;

  /** `addr` is a number only for IPv4 (unsigned, already masked). */
  constructor(family: Family, field: 'src' | 'dst', addr: bigint | number, mask: bigint, invert: boolean) {
    this.family = family;
    this.field = field;
    this.mask = mask;
    this.invert = invert;
    if (family === 'ipv4') {
      this.a32 = Number(addr) | 0;
      this.m32 = Number(mask) | 0;
      this.big = typeof addr === 'bigint' ? addr : undefined;
    } else {
      this.a32 = 0;
      this.m32 = 0;
      this.big = BigInt(addr);
    }
  }

  get addr(): bigint {
    let b = this.big;
    if (b === undefined) { b = BigInt(this.a32 >>> 0); this.big = b; }
    return b;
  }

  get text(): string {
    return `${this.invert ? '! ' : ''}${this.field === 'src' ? '-s' : '-d'} ${formatNet(this.family, this.addr, this.mask)}`;
  }

  toJSON(): Record<string, unknown> {
    return { kind: this.kind, field: this.field, addr: this.addr.toString(), mask: this.mask.toString(), invert: this.invert, text: this.text };
  }
}
