import type { Family, Packet } from '../model.ts';
import { prefixMask } from '../ip-address.ts';
import type { IpsetContents, IpsetElement, IpsetPart, IpsetSet } from './ipset-model.ts';
import { ipsetHasPorts } from './parse-ipset-save.ts';

export type IpsetDirection = 'src' | 'dst';

export interface IpsetLookup {
  /** Whether the set lookup succeeds (before the rule's `!`); undefined = cannot be judged. */
  found: boolean | undefined;
  /** The deciding element (a plain one, or the `nomatch` exception). */
  element?: IpsetElement;
  /** The set that held it (a member set, for list:set). */
  setName?: string;
  /** Why it cannot be judged, or why it does not match, in words. */
  reason: string;
}

/**
 * How to provide the contents; kept here so the CLI, triage and this message agree.
 */
export const IPSET_HOW_TO_PROVIDE = 'give the output of `ipset save` taken at the same time as the ruleset (CLI: --ipset FILE)';

function icmpKey(pkt: Packet): number {
  const echo = pkt.family === 'ipv4' ? 8 : 128;
  return ((pkt.icmpType ?? echo) << 8) | (pkt.icmpCode ?? 0);
}

/** The port-dimension value ipset reads (ip_set_get_ip4_port): the port, ICMP type/code, or 0. */
function portValue(pkt: Packet, dir: IpsetDirection, bitmap: boolean): number | null | undefined {
  const icmpProto = pkt.family === 'ipv4' ? 1 : 58;
  if (ipsetHasPorts(pkt.proto)) {
    if (bitmap && pkt.proto !== 6 && pkt.proto !== 17) return undefined;
    const p = dir === 'src' ? pkt.sport : pkt.dport;
    return p === undefined ? null : p;
  }
  // bitmap:port takes TCP and UDP only (ip_set_get_ip_port); the lookup fails for anything else.
  if (bitmap) return undefined;
  return pkt.proto === icmpProto ? icmpKey(pkt) : 0;
}

function partMatches(part: IpsetPart, pkt: Packet, dir: IpsetDirection, set: IpsetSet, family: Family): boolean | null {
  if (part.kind === 'ip') {
    let v = dir === 'src' ? pkt.src : pkt.dst;
    if (set.netmaskPrefix !== undefined) v &= prefixMask(family, set.netmaskPrefix);
    return v >= part.lo && v <= part.hi;
  }
  if (part.kind === 'port') {
    const v = portValue(pkt, dir, part.proto === -1);
    if (v === undefined) return false;
    if (v === null) return null;
    if (part.proto !== -1 && part.proto !== pkt.proto) return false;
    return v >= part.lo && v <= part.hi;
  }
  return false;
}

function netPrefix(e: IpsetElement, set: IpsetSet): number {
  const i = set.dimensions.indexOf('net');
  const p = e.parts[i];
  return p?.kind === 'ip' ? p.prefix : 0;
}

function describeElement(setName: string, e: IpsetElement): string {
  return `${e.text}${e.nomatch ? ' nomatch' : ''} in set ${setName}${e.timeoutS !== undefined ? ` (expires in ${e.timeoutS} s)` : ''}`;
}

interface Opts {
  dirs: IpsetDirection[];
  returnNomatch: boolean;
}

/**
 * ip_set_test() for one packet: family and dimension checks, the lookup (hash:net types take the most
 * specific entry, whose `nomatch` flag turns the hit into a miss), then `--return-nomatch`.
 */
export function lookupIpset(contents: IpsetContents | undefined, name: string, pkt: Packet, opts: Opts, depth = 0): IpsetLookup {
  if (!contents) return { found: undefined, reason: `ipset contents are not known: ${IPSET_HOW_TO_PROVIDE}` };
  const set = contents.sets.get(name);
  if (!set) {
    return { found: undefined, reason: `set ${name} is not in the given ipset contents, yet the kernel refuses a rule naming a missing set `
      + `and a set in use cannot be destroyed: the contents were taken at another time or on another host; ${IPSET_HOW_TO_PROVIDE}` };
  }
  if (set.dimensions.length === 0) return { found: undefined, reason: `set ${name} is of type ${set.type}, which the analyzer does not judge` };
  if (set.family !== 'any' && set.family !== pkt.family) return { found: false, reason: `set ${name} holds ${set.family === 'ipv4' ? 'IPv4' : 'IPv6'} elements only` };
  if (opts.dirs.length < set.dimensions.length) {
    return { found: false, reason: `set ${name} (${set.type}) needs ${set.dimensions.length} directions, the rule gives ${opts.dirs.length}: the kernel never matches` };
  }
  if (set.type === 'list:set') {
    if (depth > 0) return { found: undefined, reason: `list:set ${name} inside another list:set` };
    let unknown: IpsetLookup | undefined;
    for (const e of set.elements) {
      const part = e.parts[0];
      if (part?.kind !== 'set') continue;
      const r = lookupIpset(contents, part.name, pkt, opts, depth + 1);
      if (r.found === true) return { ...r, reason: `${r.reason} (member of list:set ${name})` };
      // A member the analyzer cannot judge hides whether a later member would match.
      if (r.found === undefined && !unknown) unknown = r;
    }
    if (unknown) return unknown;
    return { found: false, reason: `no member set of list:set ${name} holds the packet` };
  }
  const family = pkt.family;
  const hits: IpsetElement[] = [];
  let unknownPort = false;
  for (const e of set.elements) {
    let ok = true;
    for (let i = 0; i < set.dimensions.length && ok; i++) {
      const r = partMatches(e.parts[i] as IpsetPart, pkt, opts.dirs[i] as IpsetDirection, set, family);
      if (r === null) { unknownPort = true; ok = false; } else ok = r;
    }
    if (ok) hits.push(e);
  }
  if (hits.length === 0) {
    if (unknownPort) return { found: undefined, reason: `set ${name}: the packet's port is not given` };
    return { found: false, reason: `set ${name} does not hold ${keyText(pkt, opts.dirs, set)}` };
  }
  const nomatchType = set.dimensions.includes('net');
  const best = nomatchType ? hits.reduce((a, b) => (netPrefix(b, set) > netPrefix(a, set) ? b : a)) : (hits[0] as IpsetElement);
  let found = !best.nomatch;
  // --return-nomatch swaps the two outcomes of a hit in sets that have nomatch entries (ip_set_test).
  if (opts.returnNomatch && nomatchType) found = !found;
  return { found, element: best, setName: name, reason: describeElement(name, best) };
}

function keyText(pkt: Packet, dirs: IpsetDirection[], set: IpsetSet): string {
  return set.dimensions.map((d, i) => {
    const dir = dirs[i] as IpsetDirection;
    if (d === 'port') return `${dir} port ${String(portValue(pkt, dir, set.type === 'bitmap:port') ?? '-')}`;
    return `${dir} address`;
  }).join(', ');
}
