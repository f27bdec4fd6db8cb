import type { Family, Match, Target } from '../model.ts';
import { parseNet, prefixMask } from '../ip-address.ts';
import { protoNumber } from '../protocols.ts';
import { AddrMatch, intern, internTarget, type ParsedRuleOptions } from './parse-rule-options.ts';

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
const simpleTargets = new Map<string, Target>();
function sharedTarget(kind: 'accept' | 'drop' | 'return'): Target {
  let t = simpleTargets.get(kind);
  if (!t) { t = internTarget({ kind }); simpleTargets.set(kind, t); }
  return t;
}
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
  tcpDport: Map<number, Match>;
  tcpSport: Map<number, Match>;
  udpDport: Map<number, Match>;
  udpSport: Map<number, Match>;
}
function familyCaches(): FamilyCaches {
  return { p: [], i: [], o: [], tcpDport: new Map(), tcpSport: new Map(), udpDport: new Map(), udpSport: new Map() };
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

function tokenEnd(line: string, p: number): number {
  let e = p;
  while (e < line.length && line.charCodeAt(e) !== 32) e++;
  return e;
}

function isWord(line: string, start: number, end: number, word: string): boolean {
  return end - start === word.length && line.startsWith(word, start);
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

/**
 * Fast path for the rule shapes iptables-save prints most (`[!] -s/-d/-i/-o/-p`, `-m tcp|udp`
 * ports, `-m comment`, ACCEPT/DROP/RETURN/REJECT/user-chain targets). It reads the line in place
 * instead of tokenizing it and builds exactly what the general parser builds; anything else
 * (including every malformed line) returns undefined and goes to the general parser.
 */
export function parseCanonicalRule(line: string, pos: number, family: Family, chains: ReadonlySet<string>): ParsedRuleOptions | undefined {
  const n = line.length;
  let count = 0;
  let comment: string | undefined;
  let target: Target | undefined;
  let module = '';
  let proto = -1;
  let stage = 0; // 0 core options, 1 matches, 2 target seen
  while (pos < n) {
    if (line.charCodeAt(pos) === 32) { pos++; continue; }
    if (stage === 2) return undefined;
    let invert = false;
    if (line.charCodeAt(pos) === 33 /* ! */) {
      if (line.charCodeAt(pos + 1) !== 32) return undefined;
      invert = true;
      pos += 2;
    }
    const optEnd = tokenEnd(line, pos);
    const optLen = optEnd - pos;
    const valStart = optEnd + 1;
    if (valStart >= n) return undefined;
    const quoted = line.charCodeAt(valStart) === 34;
    const isComment = optLen === 9 && line.startsWith('--comment', pos);
    if (quoted && !isComment) return undefined;
    const valEnd = tokenEnd(line, valStart);
    if (valEnd === valStart || (valEnd === valStart + 1 && line.charCodeAt(valStart) === 33)) return undefined;
    const o1 = optLen === 2 && line.charCodeAt(pos) === 45 ? line.charCodeAt(pos + 1) : 0;
    const optPos = pos;
    pos = valEnd;
    if (o1 === 115 /* s */ || o1 === 100 /* d */) {
      if (stage !== 0) return undefined;
      const field = o1 === 115 ? 'src' : 'dst';
      const a = family === 'ipv4' ? readV4Cidr(line, valStart, valEnd) : -1;
      if (a >= 0) {
        scratch[count++] = new AddrMatch(family, field, BigInt(a), prefixMask('ipv4', lenOut.len), invert);
      } else {
        const value = line.slice(valStart, valEnd);
        if (value.includes(',')) return undefined;
        const net = parseNet(value);
        if (!net || net.family !== family) return undefined;
        scratch[count++] = new AddrMatch(family, field, net.addr, net.mask, invert);
      }
    } else if (o1 === 105 /* i */ || o1 === 111 /* o */) {
      if (stage !== 0 || valEnd - valStart > 15) return undefined;
      const cache = o1 === 105 ? caches[family].i : caches[family].o;
      const hit = findWord(cache, line, valStart, valEnd, invert);
      if (hit) { scratch[count++] = hit.match; continue; }
      const value = line.slice(valStart, valEnd);
      const opt = o1 === 105 ? '-i' : '-o';
      const wildcard = value.endsWith('+');
      const m = intern(family, '', { kind: 'iface', dir: o1 === 105 ? 'in' : 'out', name: wildcard ? value.slice(0, -1) : value,
        wildcard, invert, text: `${invert ? '! ' : ''}${opt} ${value}` });
      remember(cache, value, invert, m);
      scratch[count++] = m;
    } else if (o1 === 112 /* p */) {
      if (stage !== 0) return undefined;
      const cache = caches[family].p;
      const hit = findWord(cache, line, valStart, valEnd, invert);
      let m: Match;
      if (hit) m = hit.match;
      else {
        const value = line.slice(valStart, valEnd);
        const p = protoNumber(value);
        if (p === undefined || p === 0) return undefined;
        m = intern(family, '', { kind: 'proto', proto: p, invert, text: `${invert ? '! ' : ''}-p ${value}` });
        remember(cache, value, invert, m);
      }
      if (!invert) proto = (m as Extract<Match, { kind: 'proto' }>).proto;
      scratch[count++] = m;
    } else if (o1 === 109 /* m */) {
      if (invert) return undefined;
      if (isWord(line, valStart, valEnd, 'tcp') && proto === 6) module = 'tcp';
      else if (isWord(line, valStart, valEnd, 'udp') && proto === 17) module = 'udp';
      else if (isWord(line, valStart, valEnd, 'comment')) module = 'comment';
      else return undefined;
      stage = 1;
    } else if (o1 === 106 /* j */) {
      if (invert) return undefined;
      stage = 2;
      if (isWord(line, valStart, valEnd, 'ACCEPT')) target = sharedTarget('accept');
      else if (isWord(line, valStart, valEnd, 'DROP')) target = sharedTarget('drop');
      else if (isWord(line, valStart, valEnd, 'RETURN')) target = sharedTarget('return');
      else if (isWord(line, valStart, valEnd, 'REJECT')) {
        // Only the canonical `--reject-with` spellings; the general parser handles aliases and errors.
        let p = pos;
        while (p < n && line.charCodeAt(p) === 32) p++;
        if (!line.startsWith('--reject-with ', p)) return undefined;
        const ws = p + 14;
        const we = tokenEnd(line, ws);
        for (let k = we; k < n; k++) if (line.charCodeAt(k) !== 32) return undefined;
        const ok = family === 'ipv4' ? ok4 : ok6;
        let w: string | undefined;
        for (let k = 0; k < ok.length; k++) if (isWord(line, ws, we, ok[k] as string)) { w = ok[k]; break; }
        if (w === undefined) return undefined;
        target = sharedReject(w);
        pos = n;
      } else {
        const value = line.slice(valStart, valEnd);
        if (!chains.has(value)) return undefined;
        target = { kind: 'jump', chain: value };
      }
    } else if (optLen === 7 && (line.startsWith('--dport', optPos) || line.startsWith('--sport', optPos))) {
      if (module !== 'tcp' && module !== 'udp') return undefined;
      if (valEnd - valStart > 5) return undefined;
      let port = 0;
      for (let i = valStart; i < valEnd; i++) {
        const c = line.charCodeAt(i);
        if (c < 48 || c > 57) return undefined;
        port = port * 10 + (c - 48);
      }
      if (port > 65535) return undefined;
      const dport = line.charCodeAt(optPos + 2) === 100;
      // A leading zero changes the text, so only the plain spelling uses the numeric cache.
      const plain = line.charCodeAt(valStart) !== 48 || valEnd - valStart === 1;
      const fc = caches[family];
      const cache = !plain ? undefined : module === 'tcp' ? (dport ? fc.tcpDport : fc.tcpSport) : (dport ? fc.udpDport : fc.udpSport);
      const key = port * 2 + (invert ? 1 : 0);
      let m = cache?.get(key);
      if (!m) {
        const field = dport ? 'dport' : 'sport';
        m = intern(family, module, { kind: 'ports', field, ranges: [[port, port]], invert,
          text: `${invert ? '! ' : ''}--${field} ${line.slice(valStart, valEnd)}` });
        if (cache && cache.size < 140_000) cache.set(key, m);
      }
      scratch[count++] = m;
    } else if (isComment) {
      if (module !== 'comment' || invert) return undefined;
      if (quoted) {
        const close = line.indexOf('"', valStart + 1);
        const slash = line.indexOf('\\', valStart + 1);
        if (close < 0 || (slash >= 0 && slash < close)) return undefined;
        if (close + 1 < n && line.charCodeAt(close + 1) !== 32) return undefined;
        comment = line.slice(valStart + 1, close);
        pos = close + 1;
      } else {
        const value = line.slice(valStart, valEnd);
        if (value.includes('"')) return undefined;
        comment = value;
      }
    } else {
      return undefined;
    }
  }
  const matches = exactCopy(count);
  if (target === undefined) target = { kind: 'none' };
  return comment === undefined ? { matches, target } : { matches, target, comment };
}
