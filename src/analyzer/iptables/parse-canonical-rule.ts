import type { Family, Match, Target } from '../model.ts';
import { parseNet, prefixMask } from '../ip-address.ts';
import { protoNumber } from '../protocols.ts';
import { AddrMatch } from './addr-match.ts';
import { intern, internTarget } from './parse-rule-options.ts';
import { ADDRESS_SLOT } from './saved-rule.ts';

type RejectWith = Extract<Target, { kind: 'reject' }>['with'];

const ok4: readonly string[] = ['icmp-net-unreachable', 'icmp-host-unreachable', 'icmp-proto-unreachable', 'icmp-port-unreachable',
  'icmp-net-prohibited', 'icmp-host-prohibited', 'icmp-admin-prohibited', 'tcp-reset'];
const ok6: readonly string[] = ['icmp6-no-route', 'icmp6-adm-prohibited', 'icmp6-addr-unreachable', 'icmp6-port-unreachable',
  'icmp6-policy-fail', 'icmp6-reject-route', 'tcp-reset'];

/*
 * Large rulesets repeat the same few matches and targets on every line. These caches hand back the
 * object intern()/internTarget() returned the first time, keyed without building the text key, so a
 * repeated `-p tcp` or `--dport 22` allocates nothing. Interned objects are never evicted, so the
 * cached object is the one the general parser would share too.
 */
const acceptTarget = internTarget({ kind: 'accept' });
const dropTarget = internTarget({ kind: 'drop' });
const returnTarget = internTarget({ kind: 'return' });
const rejectTargets = new Map<string, Target>();
function sharedReject(w: string): Target {
  let t = rejectTargets.get(w);
  if (!t) { t = internTarget({ kind: 'reject', with: w as RejectWith }); rejectTargets.set(w, t); }
  return t;
}

interface WordCacheEntry { word: string; invert: boolean; match: Match }

/** Per family: recent `-p`/`-i`/`-o` values (compared in place against the line) and ports by `port * 2 + invert`. */
interface FamilyCaches {
  p: WordCacheEntry[];
  i: WordCacheEntry[];
  o: WordCacheEntry[];
  /** tcp dport, tcp sport, udp dport, udp sport; each made on first use (131,072 slots). */
  ports: (Match | undefined)[][];
}
function familyCaches(): FamilyCaches {
  return { p: [], i: [], o: [], ports: [[], [], [], []] };
}
const caches: Record<Family, FamilyCaches> = { ipv4: familyCaches(), ipv6: familyCaches() };

function findWord(cache: WordCacheEntry[], line: string, start: number, end: number, invert: boolean): WordCacheEntry | undefined {
  const len = end - start;
  for (let k = 0; k < cache.length; k++) {
    const e = cache[k] as WordCacheEntry;
    if (e.invert === invert && e.word.length === len && line.startsWith(e.word, start)) return e;
  }
  return undefined;
}
function remember(cache: WordCacheEntry[], word: string, invert: boolean, match: Match): void {
  if (cache.length < 16) cache.push({ word, invert, match });
}

const scratch: Match[] = [];

/**
 * Every rule keeps its match array, so it is built at its final size; array literals also let V8
 * allocate these long-lived arrays straight in old space once it sees they survive.
 */
function exactCopy(count: number): Match[] {
  const s = scratch as [Match, Match, Match, Match, Match];
  switch (count) {
    case 0: return [];
    case 1: return [s[0]];
    case 2: return [s[0], s[1]];
    case 3: return [s[0], s[1], s[2]];
    case 4: return [s[0], s[1], s[2], s[3]];
    case 5: return [s[0], s[1], s[2], s[3], s[4]];
    default: return scratch.slice(0, count);
  }
}

function tokenEnd(src: string, p: number, end: number): number {
  let e = p;
  while (e < end && src.charCodeAt(e) !== 32) e++;
  return e;
}

function isWord(src: string, start: number, end: number, word: string): boolean {
  return end - start === word.length && src.startsWith(word, start);
}

/**
 * `a.b.c.d` or `a.b.c.d/len` read in place, with parseNet's rules; -1 asks the caller to use
 * parseNet (other spellings such as dotted masks). Returns the masked address, the length in `lenOut`.
 */
const lenOut = { len: 32 };
function readV4Cidr(line: string, start: number, end: number): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  let i = start;
  for (; i < end; i++) {
    const c = line.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
      continue;
    }
    if (c === 47) break;
    if (c < 48 || c > 57 || digits === 3) return -1;
    part = part * 10 + (c - 48);
    digits++;
    if (part > 255) return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  n = n * 256 + part;
  let len = 32;
  if (i < end) {
    const m = end - i - 1;
    if (m < 1 || m > 3) return -1;
    len = 0;
    for (let j = i + 1; j < end; j++) {
      const c = line.charCodeAt(j);
      if (c < 48 || c > 57) return -1;
      len = len * 10 + (c - 48);
    }
    if (len > 32) return -1;
  }
  lenOut.len = len;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return (n & mask) >>> 0;
}

/** What the last successful parseCanonicalRule built; the caller takes it before the next call. */
export interface CanonicalRule {
  /** The matches, or undefined when they are pending in `count`/`m0`…`m3`/`a32`/`aInfo` (see SavedRule). */
  matches: Match[] | undefined;
  count: number;
  m0: Match | undefined;
  m1: Match | undefined;
  m2: Match | undefined;
  m3: Match | undefined;
  a32: number;
  aInfo: number;
  target: Target;
  /** [start, end) of the comment in the line, or -1 when there is none. */
  commentStart: number;
  commentEnd: number;
}
export const canonical: CanonicalRule = { matches: undefined, count: 0, m0: undefined, m1: undefined, m2: undefined, m3: undefined,
  a32: 0, aInfo: 0, target: { kind: 'none' }, commentStart: -1, commentEnd: -1 };

const MOD_NONE = 0;
const MOD_TCP = 1;
const MOD_UDP = 2;
const MOD_COMMENT = 3;

/**
 * State of the line being read. The reader is split into small functions over this one object so
 * V8 optimizes the hot loop quickly: one large function took long enough to compile that most of
 * a 100,000-rule file was read by unoptimized code.
 */
class LineState {
  line = '';
  n = 0;
  /** Where reading continues after the current option. */
  pos = 0;
  family: Family = 'ipv4';
  count = 0;
  addressAt = -1;
  a32 = 0;
  aInfo = 0;
  commentStart = -1;
  commentEnd = -1;
  target: Target | undefined = undefined;
  module = MOD_NONE;
  proto = -1;
  /** 0 core options, 1 matches, 2 target seen. */
  stage = 0;
}
const st = new LineState();

function readAddress(s: LineState, dst: boolean, invert: boolean, valStart: number, valEnd: number): boolean {
  if (s.stage !== 0) return false;
  const a = s.family === 'ipv4' ? readV4Cidr(s.line, valStart, valEnd) : -1;
  if (a >= 0 && s.addressAt < 0) {
    s.addressAt = s.count;
    s.a32 = a | 0;
    s.aInfo = lenOut.len | (dst ? 64 : 0) | (invert ? 128 : 0);
    scratch[s.count++] = ADDRESS_SLOT;
    return true;
  }
  return readOtherAddress(s, dst, invert, valStart, valEnd, a);
}

function readOtherAddress(s: LineState, dst: boolean, invert: boolean, valStart: number, valEnd: number, a: number): boolean {
  const field = dst ? 'dst' : 'src';
  if (a >= 0) {
    scratch[s.count++] = new AddrMatch(s.family, field, a, prefixMask('ipv4', lenOut.len), invert);
    return true;
  }
  const value = s.line.slice(valStart, valEnd);
  if (value.includes(',')) return false;
  const net = parseNet(value);
  if (!net || net.family !== s.family) return false;
  scratch[s.count++] = new AddrMatch(s.family, field, net.addr, net.mask, invert);
  return true;
}

function readIface(s: LineState, out: boolean, invert: boolean, valStart: number, valEnd: number): boolean {
  if (s.stage !== 0 || valEnd - valStart > 15) return false;
  const cache = out ? caches[s.family].o : caches[s.family].i;
  const hit = findWord(cache, s.line, valStart, valEnd, invert);
  let m: Match;
  if (hit) m = hit.match;
  else {
    const value = s.line.slice(valStart, valEnd);
    const wildcard = value.endsWith('+');
    m = intern(s.family, '', { kind: 'iface', dir: out ? 'out' : 'in', name: wildcard ? value.slice(0, -1) : value,
      wildcard, invert, text: `${invert ? '! ' : ''}${out ? '-o' : '-i'} ${value}` });
    remember(cache, value, invert, m);
  }
  scratch[s.count++] = m;
  return true;
}

function readProto(s: LineState, invert: boolean, valStart: number, valEnd: number): boolean {
  if (s.stage !== 0) return false;
  const cache = caches[s.family].p;
  const hit = findWord(cache, s.line, valStart, valEnd, invert);
  let m: Match;
  if (hit) m = hit.match;
  else {
    const value = s.line.slice(valStart, valEnd);
    const p = protoNumber(value);
    if (p === undefined || p === 0) return false;
    m = intern(s.family, '', { kind: 'proto', proto: p, invert, text: `${invert ? '! ' : ''}-p ${value}` });
    remember(cache, value, invert, m);
  }
  if (!invert) s.proto = (m as Extract<Match, { kind: 'proto' }>).proto;
  scratch[s.count++] = m;
  return true;
}

function readModule(s: LineState, valStart: number, valEnd: number): boolean {
  const line = s.line;
  if (isWord(line, valStart, valEnd, 'tcp') && s.proto === 6) s.module = MOD_TCP;
  else if (isWord(line, valStart, valEnd, 'udp') && s.proto === 17) s.module = MOD_UDP;
  else if (isWord(line, valStart, valEnd, 'comment')) s.module = MOD_COMMENT;
  else return false;
  s.stage = 1;
  return true;
}

function readTarget(s: LineState, valStart: number, valEnd: number, chains: ReadonlySet<string>): boolean {
  const line = s.line;
  const len = valEnd - valStart;
  const c = line.charCodeAt(valStart);
  s.stage = 2;
  let t: Target | undefined;
  if (len === 6) {
    if (c === 65 && line.startsWith('ACCEPT', valStart)) t = acceptTarget;
    else if (c === 82 && line.startsWith('REJECT', valStart)) return readReject(s);
    else if (c === 82 && line.startsWith('RETURN', valStart)) t = returnTarget;
  } else if (len === 4 && c === 68 && line.startsWith('DROP', valStart)) t = dropTarget;
  if (t === undefined) return readJump(s, valStart, valEnd, chains);
  s.target = t;
  return true;
}

function readJump(s: LineState, valStart: number, valEnd: number, chains: ReadonlySet<string>): boolean {
  const value = s.line.slice(valStart, valEnd);
  if (!chains.has(value)) return false;
  s.target = { kind: 'jump', chain: value };
  return true;
}

/** The last `--reject-with` type read, to compare the next one against in place. */
let lastReject = { family: 'ipv4' as Family, word: 'icmp-port-unreachable', target: sharedReject('icmp-port-unreachable') };

/** Only the canonical `--reject-with` spellings; the general parser handles aliases and errors. */
function readReject(s: LineState): boolean {
  const { line, n } = s;
  let p = s.pos;
  while (p < n && line.charCodeAt(p) === 32) p++;
  if (!line.startsWith('--reject-with ', p)) return false;
  const ws = p + 14;
  const we = tokenEnd(line, ws, n);
  if (we === ws) return false;
  for (let k = we; k < n; k++) if (line.charCodeAt(k) !== 32) return false;
  const last = lastReject;
  if (last.family === s.family && isWord(line, ws, we, last.word)) {
    s.target = last.target;
  } else {
    const target = rejectType(s.family, line, ws, we);
    if (target === undefined) return false;
    s.target = target;
  }
  s.pos = n;
  return true;
}

function rejectType(family: Family, line: string, ws: number, we: number): Target | undefined {
  const ok = family === 'ipv4' ? ok4 : ok6;
  for (let k = 0; k < ok.length; k++) {
    const w = ok[k] as string;
    if (isWord(line, ws, we, w)) {
      const target = sharedReject(w);
      lastReject = { family, word: w, target };
      return target;
    }
  }
  return undefined;
}

function readPort(s: LineState, dport: boolean, invert: boolean, valStart: number, valEnd: number): boolean {
  const mod = s.module;
  if ((mod !== MOD_TCP && mod !== MOD_UDP) || valEnd - valStart > 5) return false;
  const line = s.line;
  let port = 0;
  for (let i = valStart; i < valEnd; i++) {
    const c = line.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    port = port * 10 + (c - 48);
  }
  if (port > 65535) return false;
  // A leading zero changes the text, so only the plain spelling uses the numeric cache.
  const plain = line.charCodeAt(valStart) !== 48 || valEnd - valStart === 1;
  const key = port * 2 + (invert ? 1 : 0);
  const ports = caches[s.family].ports;
  const which = (mod === MOD_UDP ? 2 : 0) + (dport ? 0 : 1);
  let cache = ports[which] as (Match | undefined)[];
  let m = plain ? cache[key] : undefined;
  if (m === undefined) {
    m = portMatch(s, dport, invert, valStart, valEnd, port);
    if (plain) {
      if (cache.length === 0) { cache = new Array<Match | undefined>(131_072).fill(undefined); ports[which] = cache; }
      cache[key] = m;
    }
  }
  scratch[s.count++] = m;
  return true;
}

function portMatch(s: LineState, dport: boolean, invert: boolean, valStart: number, valEnd: number, port: number): Match {
  const field = dport ? 'dport' : 'sport';
  return intern(s.family, s.module === MOD_TCP ? 'tcp' : 'udp', { kind: 'ports', field, ranges: [[port, port]], invert,
    text: `${invert ? '! ' : ''}--${field} ${s.line.slice(valStart, valEnd)}` });
}

function readComment(s: LineState, invert: boolean, valStart: number, valEnd: number): boolean {
  if (s.module !== MOD_COMMENT || invert) return false;
  const { line, n } = s;
  if (line.charCodeAt(valStart) === 34) {
    // Escapes need the tokenizer's unquoting; only plain "…" is read in place.
    let close = valStart + 1;
    for (; close < n; close++) {
      const c = line.charCodeAt(close);
      if (c === 34) break;
      if (c === 92) return false;
    }
    if (close >= n) return false;
    if (close + 1 < n && line.charCodeAt(close + 1) !== 32) return false;
    s.commentStart = valStart + 1;
    s.commentEnd = close;
    s.pos = close + 1;
  } else {
    for (let k = valStart; k < valEnd; k++) if (line.charCodeAt(k) === 34) return false;
    s.commentStart = valStart;
    s.commentEnd = valEnd;
  }
  return true;
}

/** Reads the option at `s.pos` (after any `!`); false = not a canonical line. */
function readOption(s: LineState, invert: boolean, chains: ReadonlySet<string>): boolean {
  const { line, n } = s;
  const pos = s.pos;
  const optEnd = tokenEnd(line, pos, n);
  const optLen = optEnd - pos;
  const valStart = optEnd + 1;
  if (valStart >= n) return false;
  const quoted = line.charCodeAt(valStart) === 34;
  const isComment = optLen === 9 && line.startsWith('--comment', pos);
  if (quoted && !isComment) return false;
  const valEnd = tokenEnd(line, valStart, n);
  // (charCodeAt first: a call that runs every time keeps V8 from deoptimizing on the first 1-character value.)
  if (valEnd === valStart || (line.charCodeAt(valStart) === 33 && valEnd === valStart + 1)) return false;
  s.pos = valEnd;
  if (optLen === 2 && line.charCodeAt(pos) === 45) {
    switch (line.charCodeAt(pos + 1)) {
      case 115: /* s */ return readAddress(s, false, invert, valStart, valEnd);
      case 100: /* d */ return readAddress(s, true, invert, valStart, valEnd);
      case 112: /* p */ return readProto(s, invert, valStart, valEnd);
      case 109: /* m */ return !invert && readModule(s, valStart, valEnd);
      case 106: /* j */ return !invert && readTarget(s, valStart, valEnd, chains);
      case 105: /* i */ return readIface(s, false, invert, valStart, valEnd);
      case 111: /* o */ return readIface(s, true, invert, valStart, valEnd);
      default: return false;
    }
  }
  if (optLen === 7 && line.charCodeAt(pos) === 45 && line.charCodeAt(pos + 1) === 45 && line.startsWith('port', pos + 3)) {
    const c = line.charCodeAt(pos + 2);
    if (c === 100 || c === 115) return readPort(s, c === 100, invert, valStart, valEnd);
    return false;
  }
  return isComment && readComment(s, invert, valStart, valEnd);
}

/**
 * Fast path for the rule shapes iptables-save prints most (`[!] -s/-d/-i/-o/-p`, `-m tcp|udp`
 * ports, `-m comment`, ACCEPT/DROP/RETURN/REJECT/user-chain targets). It reads `line` from `pos` to
 * `n` in place (so `line` may be the whole dump) instead of tokenizing it and builds exactly what the
 * general parser builds, into `canonical`; anything else (including every malformed line) returns
 * false and goes to the general parser.
 */
export function parseCanonicalRule(line: string, pos: number, n: number, family: Family, chains: ReadonlySet<string>): boolean {
  const s = st;
  s.line = line;
  s.n = n;
  s.pos = pos;
  s.family = family;
  s.count = 0;
  s.addressAt = -1;
  s.a32 = 0;
  s.aInfo = 0;
  s.commentStart = -1;
  s.commentEnd = -1;
  s.target = undefined;
  s.module = MOD_NONE;
  s.proto = -1;
  s.stage = 0;
  while (s.pos < n) {
    let p = s.pos;
    if (line.charCodeAt(p) === 32) { s.pos = p + 1; continue; }
    if (s.stage === 2) return false;
    let invert = false;
    if (line.charCodeAt(p) === 33 /* ! */) {
      if (line.charCodeAt(p + 1) !== 32) return false;
      invert = true;
      p += 2;
      s.pos = p;
    }
    if (!readOption(s, invert, chains)) return false;
  }
  finish(s);
  return true;
}

function finish(s: LineState): void {
  const out = canonical;
  const count = s.count;
  if (count > 4) {
    if (s.addressAt >= 0) {
      const info = s.aInfo;
      scratch[s.addressAt] = new AddrMatch('ipv4', (info & 64) !== 0 ? 'dst' : 'src', s.a32 >>> 0, prefixMask('ipv4', info & 63), (info & 128) !== 0);
    }
    out.matches = exactCopy(count);
  } else {
    out.matches = undefined;
    out.m0 = count > 0 ? scratch[0] : undefined;
    out.m1 = count > 1 ? scratch[1] : undefined;
    out.m2 = count > 2 ? scratch[2] : undefined;
    out.m3 = count > 3 ? scratch[3] : undefined;
  }
  out.count = count;
  out.a32 = s.a32;
  out.aInfo = s.aInfo;
  out.target = s.target ?? { kind: 'none' };
  out.commentStart = s.commentStart;
  out.commentEnd = s.commentEnd;
}
