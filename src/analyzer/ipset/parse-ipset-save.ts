import { ErrorCode, WhyBlockedError } from '../../errors.ts';
import type { Family } from '../model.ts';
import { allOnes, familyBits, parseIp, prefixMask } from '../ip-address.ts';
import { portNumber, protoNumber } from '../protocols.ts';
import type { IpsetContents, IpsetDimension, IpsetElement, IpsetPart, IpsetSet } from './ipset-model.ts';

/**
 * Set types the analyzer judges, with their dimensions. Others (hash:mac, hash:net,iface, …) are kept
 * so that a rule naming them is reported as unjudgeable rather than as a missing set.
 */
const dimensionsByType: Record<string, IpsetDimension[]> = {
  'hash:ip': ['ip'], 'hash:net': ['net'], 'hash:ip,port': ['ip', 'port'], 'hash:net,port': ['net', 'port'],
  'hash:ip,port,ip': ['ip', 'port', 'ip'], 'hash:ip,port,net': ['ip', 'port', 'net'],
  'bitmap:ip': ['ip'], 'bitmap:port': ['port'], 'list:set': ['set'],
};
const knownTypes = new Set([...Object.keys(dimensionsByType), 'hash:net,net', 'hash:net,port,net', 'hash:net,iface',
  'hash:ip,mark', 'hash:mac', 'hash:ip,mac', 'bitmap:ip,mac']);
const createValueOptions = new Set(['family', 'hashsize', 'maxelem', 'timeout', 'bucketsize', 'initval', 'netmask', 'range',
  'size', 'markmask', 'probes', 'resize', 'bitmask']);
const createFlags = new Set(['counters', 'comment', 'skbinfo', 'forceadd']);
const addValueOptions = new Set(['timeout', 'packets', 'bytes', 'comment', 'skbmark', 'skbprio', 'skbqueue', 'before', 'after']);

/** ipset's ICMP names (`ipset save` prints these; measured, see test/differential/FINDINGS.md). */
const icmpNames: Record<string, number> = {
  'echo-reply': 0x0000, 'network-unreachable': 0x0300, 'host-unreachable': 0x0301, 'protocol-unreachable': 0x0302,
  'port-unreachable': 0x0303, 'fragmentation-needed': 0x0304, 'source-route-failed': 0x0305, 'network-unknown': 0x0306,
  'host-unknown': 0x0307, 'network-prohibited': 0x0309, 'host-prohibited': 0x030a, 'TOS-network-unreachable': 0x030b,
  'TOS-host-unreachable': 0x030c, 'communication-prohibited': 0x030d, 'host-precedence-violation': 0x030e,
  'precedence-cutoff': 0x030f, 'source-quench': 0x0400, 'network-redirect': 0x0500, 'host-redirect': 0x0501,
  'TOS-network-redirect': 0x0502, 'TOS-host-redirect': 0x0503, 'echo-request': 0x0800, 'router-advertisement': 0x0900,
  'router-solicitation': 0x0a00, 'ttl-zero-during-transit': 0x0b00, 'ttl-zero-during-reassembly': 0x0b01,
  'ip-header-bad': 0x0c00, 'required-option-missing': 0x0c01, 'timestamp-request': 0x0d00, 'timestamp-reply': 0x0e00,
  'address-mask-request': 0x1100, 'address-mask-reply': 0x1200, ping: 0x0800, pong: 0x0000,
};
const icmpv6Names: Record<string, number> = {
  'no-route': 0x0100, 'communication-prohibited': 0x0101, 'address-unreachable': 0x0103, 'port-unreachable': 0x0104,
  'packet-too-big': 0x0200, 'ttl-zero-during-transit': 0x0300, 'ttl-zero-during-reassembly': 0x0301, 'bad-header': 0x0400,
  'unknown-header-type': 0x0401, 'unknown-option': 0x0402, 'echo-request': 0x8000, 'echo-reply': 0x8100,
  'router-solicitation': 0x8500, 'router-advertisement': 0x8600, 'neighbour-solicitation': 0x8700,
  'neighbour-advertisement': 0x8800, redirect: 0x8900,
};

/** Protocols whose ports ipset reads (ip_set_getport.c get_port); others key on port 0. */
export function ipsetHasPorts(proto: number): boolean {
  return proto === 6 || proto === 17 || proto === 132 || proto === 136;
}

class IpsetSyntaxError extends Error {
  constructor(readonly token: string, message: string) { super(message); }
}

function fail(token: string, message: string): never {
  throw new IpsetSyntaxError(token, message);
}

/** Whitespace-separated words; `comment "a b"` keeps its quoted value as one word. */
function tokenize(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) out.push(m[1] ?? (m[2] as string));
  return out;
}

function count(tok: string, what: string): number {
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(tok)) fail(tok, `${what} must be a number, not "${tok}"`);
  return Number(tok);
}

function familyOfSet(set: IpsetSet): Family {
  return set.family === 'ipv6' ? 'ipv6' : 'ipv4';
}

/** `a`, `a/len`, `a-b` (IPv4) as address parts; hash:net ranges become the CIDRs the kernel stores. */
function parseAddressPart(tok: string, dim: 'ip' | 'net', set: IpsetSet): IpsetPart[] {
  const family = familyOfSet(set);
  const bits = familyBits(family);
  const dash = tok.indexOf('-');
  const slash = tok.indexOf('/');
  const address = (t: string): bigint => {
    const ip = parseIp(t);
    if (!ip) fail(tok, `"${t}" is not an IP address`);
    if (ip.family !== family) fail(tok, `"${t}" is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address (set ${set.name} is family ${set.family === 'ipv6' ? 'inet6' : 'inet'})`);
    return ip.value;
  };
  let lo: bigint;
  let hi: bigint;
  let prefix = bits;
  if (dash >= 0) {
    lo = address(tok.slice(0, dash));
    hi = address(tok.slice(dash + 1));
    if (hi < lo) fail(tok, `range "${tok}" ends before it starts`);
  } else if (slash >= 0) {
    const lenTok = tok.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenTok) || Number(lenTok) > bits || (dim === 'net' && Number(lenTok) === 0)) fail(tok, `"/${lenTok}" is not a valid prefix length`);
    prefix = Number(lenTok);
    const mask = prefixMask(family, prefix);
    lo = address(tok.slice(0, slash)) & mask;
    hi = lo | (~mask & allOnes(family));
  } else {
    lo = address(tok);
    hi = lo;
  }
  if (set.netmaskPrefix !== undefined) {
    const mask = prefixMask(family, set.netmaskPrefix);
    lo &= mask;
    hi &= mask;
  }
  if (dim === 'net' && dash >= 0) return rangeToCidrs(family, lo, hi).map(([a, len]) => ({ kind: 'ip', lo: a, hi: a | (~prefixMask(family, len) & allOnes(family)), prefix: len }));
  return [{ kind: 'ip', lo, hi, prefix }];
}

/** The CIDR blocks covering lo..hi, as `ipset add` splits a hash:net range. */
function rangeToCidrs(family: Family, lo: bigint, hi: bigint): [bigint, number][] {
  const bits = familyBits(family);
  const out: [bigint, number][] = [];
  let a = lo;
  while (a <= hi) {
    let len = bits;
    while (len > 0) {
      const size = 1n << BigInt(bits - len + 1);
      if (a % size !== 0n || a + size - 1n > hi) break;
      len--;
    }
    out.push([a, len]);
    a += 1n << BigInt(bits - len);
  }
  return out;
}

function parsePort(tok: string, text: string): number {
  const n = portNumber(text);
  if (n === undefined) fail(tok, `"${text}" is not a port number`);
  return n;
}

/** `80`, `tcp:80`, `udp:53-55`, `icmp:echo-request`, `icmp:3/1`, `gre:0`; bitmap:port takes no protocol other than tcp/udp. */
function parsePortPart(tok: string, set: IpsetSet): IpsetPart {
  const colon = tok.indexOf(':');
  const protoTok = colon < 0 ? 'tcp' : tok.slice(0, colon);
  const value = colon < 0 ? tok : tok.slice(colon + 1);
  const proto = protoNumber(protoTok);
  if (proto === undefined) fail(tok, `unknown protocol "${protoTok}"`);
  const bitmap = set.type === 'bitmap:port';
  if (bitmap && proto !== 6 && proto !== 17) fail(tok, `bitmap:port holds TCP/UDP ports only, not "${protoTok}"`);
  if (proto === 1 || proto === 58) {
    if ((proto === 1) !== (familyOfSet(set) === 'ipv4')) fail(tok, `protocol "${protoTok}" does not fit set ${set.name}'s family`);
    const named = (proto === 1 ? icmpNames : icmpv6Names)[value];
    const tc = /^(\d{1,3})\/(\d{1,3})$/.exec(value);
    const key = named ?? (tc && Number(tc[1]) < 256 && Number(tc[2]) < 256 ? (Number(tc[1]) << 8) | Number(tc[2]) : undefined);
    if (key === undefined) fail(tok, `"${value}" is not an ICMP type name or TYPE/CODE`);
    return { kind: 'port', proto, lo: key, hi: key };
  }
  const dash = value.indexOf('-');
  const lo = parsePort(tok, dash < 0 ? value : value.slice(0, dash));
  const hi = dash < 0 ? lo : parsePort(tok, value.slice(dash + 1));
  if (hi < lo) fail(tok, `port range "${value}" ends before it starts`);
  if (!ipsetHasPorts(proto) && (lo !== 0 || hi !== 0)) fail(tok, `protocol "${protoTok}" has no ports; ipset only takes port 0 with it`);
  if (set.range && (BigInt(lo) < set.range.lo || BigInt(hi) > set.range.hi)) fail(tok, `port ${value} is outside the range of set ${set.name}`);
  return { kind: 'port', proto: bitmap ? -1 : proto, lo, hi };
}

function parseElement(tok: string, set: IpsetSet, line: number): IpsetElement[] {
  if (set.dimensions.length === 0) return [{ parts: [{ kind: 'other', text: tok }], nomatch: false, text: tok, line }];
  const pieces = set.type === 'list:set' ? [tok] : tok.split(',');
  if (pieces.length !== set.dimensions.length) fail(tok, `a ${set.type} element has ${set.dimensions.length} part(s) separated by ",", got "${tok}"`);
  let combos: IpsetPart[][] = [[]];
  set.dimensions.forEach((dim, i) => {
    const piece = pieces[i] as string;
    if (piece === '') fail(tok, `empty part in element "${tok}"`);
    let options: IpsetPart[];
    if (dim === 'ip' || dim === 'net') options = parseAddressPart(piece, dim, set);
    else if (dim === 'port') options = [parsePortPart(piece, set)];
    else if (dim === 'set') options = [{ kind: 'set', name: piece }];
    else options = [{ kind: 'other', text: piece }];
    if (set.range && (dim === 'ip')) {
      for (const o of options) if (o.kind === 'ip' && (o.lo < set.range.lo || o.hi > set.range.hi)) fail(tok, `${piece} is outside the range of set ${set.name}`);
    }
    combos = combos.flatMap((c) => options.map((o) => [...c, o]));
  });
  return combos.map((parts) => ({ parts, nomatch: false, text: tok, line }));
}

function parseCreate(words: string[], line: number): IpsetSet {
  const [, name, type] = words;
  if (name === undefined || type === undefined) fail(words[0] as string, 'a create line needs a set name and a type');
  if (!knownTypes.has(type)) fail(type, `unknown set type "${type}"`);
  const set: IpsetSet = { name, type, family: 'ipv4', dimensions: dimensionsByType[type] ?? [], counters: false, elements: [], line };
  if (type === 'bitmap:port' || type === 'list:set') set.family = 'any';
  let rangeTok: string | undefined;
  for (let i = 3; i < words.length; i++) {
    const opt = words[i] as string;
    if (createFlags.has(opt)) { if (opt === 'counters') set.counters = true; continue; }
    if (!createValueOptions.has(opt)) fail(opt, `unknown create option "${opt}"`);
    const v = words[++i];
    if (v === undefined) fail(opt, `option "${opt}" needs a value`);
    if (opt === 'family') {
      if (v !== 'inet' && v !== 'inet6') fail(v, `family must be inet or inet6, not "${v}"`);
      if (set.family === 'any') continue;
      set.family = v === 'inet' ? 'ipv4' : 'ipv6';
    } else if (opt === 'timeout') set.timeoutS = count(v, 'timeout');
    else if (opt === 'netmask') {
      const n = count(v, 'netmask');
      set.netmaskPrefix = n;
    } else if (opt === 'range') rangeTok = v;
    else count(v, opt);
  }
  if (set.netmaskPrefix !== undefined && (set.netmaskPrefix < 1 || set.netmaskPrefix > familyBits(familyOfSet(set)))) {
    fail(String(set.netmaskPrefix), `netmask ${set.netmaskPrefix} does not fit family ${set.family === 'ipv6' ? 'inet6' : 'inet'}`);
  }
  if (type === 'bitmap:ip' || type === 'bitmap:port') {
    if (rangeTok === undefined) fail(type, `${type} needs "range"`);
    if (type === 'bitmap:port') {
      const m = /^(\d+)-(\d+)$/.exec(rangeTok);
      if (!m || Number(m[2]) > 65535 || Number(m[1]) > Number(m[2])) fail(rangeTok, `"${rangeTok}" is not a port range`);
      set.range = { lo: BigInt(m[1] as string), hi: BigInt(m[2] as string) };
    } else {
      const [part] = parseAddressPart(rangeTok, 'ip', { ...set, netmaskPrefix: undefined } as IpsetSet);
      if (part?.kind !== 'ip') fail(rangeTok, `"${rangeTok}" is not an address range`);
      set.range = { lo: part.lo, hi: part.hi };
    }
  }
  return set;
}

function parseAdd(words: string[], sets: Map<string, IpsetSet>, line: number): void {
  const [, name, elementTok] = words;
  if (name === undefined || elementTok === undefined) fail(words[0] as string, 'an add line needs a set name and an element');
  const set = sets.get(name);
  if (!set) fail(name, `set "${name}" is added to before its create line`);
  const elements = parseElement(elementTok, set, line);
  let nomatch = false;
  let timeoutS: number | undefined;
  for (let i = 3; i < words.length; i++) {
    const opt = words[i] as string;
    if (opt === 'nomatch') {
      if (!set.dimensions.includes('net')) fail(opt, `${set.type} has no "nomatch" elements`);
      nomatch = true;
      continue;
    }
    if (!addValueOptions.has(opt)) fail(opt, `unknown element option "${opt}"`);
    const v = words[++i];
    if (v === undefined) fail(opt, `option "${opt}" needs a value`);
    if (opt === 'timeout') timeoutS = count(v, 'timeout');
    else if (opt === 'packets' || opt === 'bytes') count(v, opt);
  }
  for (const e of elements) {
    e.nomatch = nomatch;
    // timeout 0 on an element of a timeout set means "permanent".
    if (timeoutS !== undefined && timeoutS > 0) e.timeoutS = timeoutS;
    set.elements.push(e);
  }
}

/**
 * Parses `ipset save` output (`create`/`add` lines; `-N`/`-A` are the old spellings).
 * A malformed line is a RulesetParse error naming the line and the token.
 */
export function parseIpsetSave(text: string): IpsetContents {
  const sets = new Map<string, IpsetSet>();
  const lines = text.split('\n');
  lines.forEach((raw, idx) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const lineNo = idx + 1;
    const words = tokenize(line);
    const cmd = words[0] as string;
    try {
      if (cmd === 'create' || cmd === '-N') {
        const set = parseCreate(words, lineNo);
        if (sets.has(set.name)) fail(set.name, `set "${set.name}" is created twice`);
        sets.set(set.name, set);
      } else if (cmd === 'add' || cmd === '-A') {
        parseAdd(words, sets, lineNo);
      } else {
        fail(cmd, `"${cmd}" is not a create or add line`);
      }
    } catch (err) {
      if (!(err instanceof IpsetSyntaxError)) throw err;
      throw new WhyBlockedError(ErrorCode.RulesetParse,
        `ipset line ${lineNo}: ${err.message} (at "${err.token}"). Give unmodified \`ipset save\` output.`,
        { details: { line: lineNo, token: err.token } });
    }
  });
  return { sets };
}
