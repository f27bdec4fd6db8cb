import type { Family } from '../model.ts';

/** What one dimension of a set type holds; `other` dimensions (mac, iface, mark) are not judged. */
export type IpsetDimension = 'ip' | 'net' | 'port' | 'set' | 'other';

/** One part of an element, in the order of the set type's dimensions. */
export type IpsetPart =
  /** An address or network: `lo..hi`; `prefix` orders hash:net lookups (most specific first). */
  | { kind: 'ip'; lo: bigint; hi: bigint; prefix: number }
  /** `proto` -1 = bitmap:port (TCP and UDP alike). ICMP keys are type << 8 | code, as the kernel stores them. */
  | { kind: 'port'; proto: number; lo: number; hi: number }
  | { kind: 'set'; name: string }
  | { kind: 'other'; text: string };

export interface IpsetElement {
  parts: IpsetPart[];
  /** hash:net `nomatch`: an exception inside a wider entry. */
  nomatch: boolean;
  /** Seconds left when the contents were saved; the element is gone after that. */
  timeoutS?: number;
  /** The element as `ipset save` printed it (without `add NAME`). */
  text: string;
  line: number;
}

export interface IpsetSet {
  name: string;
  /** e.g. `hash:net`. */
  type: string;
  /** `any` for bitmap:port and list:set (the kernel's NFPROTO_UNSPEC). */
  family: Family | 'any';
  /** Empty when the analyzer does not judge this set type. */
  dimensions: IpsetDimension[];
  /** hash:ip/bitmap:ip `netmask`: the packet's address is masked to this prefix before the lookup. */
  netmaskPrefix?: number;
  /** bitmap:ip/bitmap:port: values outside the range are never members. */
  range?: { lo: bigint; hi: bigint };
  /** Set-wide default timeout (seconds); elements may carry their own. */
  timeoutS?: number;
  counters: boolean;
  elements: IpsetElement[];
  line: number;
}

/** Parsed `ipset save` output: the sets by name. */
export interface IpsetContents {
  sets: Map<string, IpsetSet>;
}
