import type { CtStateName, Family, Match, PortRange, Target } from '../model.ts';
import { TcpFlag } from '../model.ts';
import { allOnes, parseIp, parseNet } from '../ip-address.ts';
import { AddrMatch } from './addr-match.ts';
import { parseSetMatch } from './parse-set-match.ts';
import { defaultRejectWith, parseIcmpTypeSpec, parseRejectWith, portNumber, protoNumber } from '../protocols.ts';

/** Thrown for a bad token; the file parser adds the line number. */
export class RuleSyntaxError extends Error {
  readonly token: string;
  constructor(token: string, message: string) {
    super(message);
    this.token = token;
  }
}

export interface ParsedRuleOptions {
  matches: Match[];
  target: Target;
  comment?: string;
}

const coreOptions = new Set(['-s', '--source', '--src', '-d', '--destination', '--dst', '-i', '--in-interface',
  '-o', '--out-interface', '-p', '--protocol', '-f', '--fragment']);
const boundary = new Set(['-m', '--match', '-j', '--jump', '-g', '--goto', ...coreOptions]);

/** Modules whose result depends on state a ruleset dump does not contain. */
const unjudgeableReasons: Record<string, string> = {
  limit: 'rate limit state is not in the dump (the first packets of a fresh bucket match)',
  hashlimit: 'rate limit state is not in the dump',
  recent: 'the recent list contents are not in the dump',
  owner: 'socket owner is only known for locally generated packets',
  string: 'payload contents are not simulated',
  connlimit: 'connection counts are not in the dump',
  time: 'depends on the time of day',
  statistic: 'random or nth sampling',
  u32: 'raw header bytes are not simulated',
  bpf: 'BPF programs are not simulated',
  length: 'packet length is not simulated',
  ttl: 'TTL is not simulated',
  hl: 'hop limit is not simulated',
  physdev: 'bridge ports are not simulated',
  mac: 'MAC addresses are not simulated',
  rpfilter: 'reverse-path lookups need the routing table',
  socket: 'socket lookups need the live socket table',
  policy: 'IPsec policy is not simulated',
  connbytes: 'connection byte counts are not in the dump',
  quota: 'quota state is not in the dump',
};

const addrTypes = new Set(['UNSPEC', 'UNICAST', 'LOCAL', 'BROADCAST', 'ANYCAST', 'MULTICAST', 'BLACKHOLE',
  'UNREACHABLE', 'PROHIBIT', 'THROW', 'NAT', 'XRESOLVE']);
const ctStates = new Set<CtStateName>(['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED', 'SNAT', 'DNAT']);
const ctStatuses = new Set(['NONE', 'EXPECTED', 'SEEN_REPLY', 'ASSURED', 'CONFIRMED']);
const tcpFlagNames: Record<string, number> = { ...TcpFlag, ALL: 0x3f, NONE: 0 };
const nonTerminalTargets = new Set(['LOG', 'NFLOG', 'TRACE', 'ULOG', 'TCPMSS', 'DSCP', 'TOS', 'TTL', 'HL', 'CHECKSUM',
  'CLASSIFY', 'SECMARK', 'CONNSECMARK', 'AUDIT', 'IDLETIMER', 'LED', 'TEE', 'ECN', 'HMARK', 'RATEEST', 'SYNPROXY']);

function parsePort(token: string, text: string): number {
  const n = portNumber(text);
  if (n === undefined) throw new RuleSyntaxError(token, `"${token}" is not a port number`);
  return n;
}

/** `22`, `1024:`, `:1023`, `1000:2000` (tcp/udp and multiport ranges). */
function parsePortRange(token: string): PortRange {
  const colon = token.indexOf(':');
  if (colon < 0) {
    const p = parsePort(token, token);
    return [p, p];
  }
  const lo = token.slice(0, colon) === '' ? 0 : parsePort(token, token.slice(0, colon));
  const hi = token.slice(colon + 1) === '' ? 65535 : parsePort(token, token.slice(colon + 1));
  // The kernel swaps a reversed range (libxt_tcp.c parse_tcp_ports accepts it).
  return lo <= hi ? [lo, hi] : [hi, lo];
}

function parseNumber(token: string): number {
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(token)) throw new RuleSyntaxError(token, `"${token}" is not a number`);
  const n = Number(token);
  if (n > 0xffffffff) throw new RuleSyntaxError(token, `"${token}" does not fit in 32 bits`);
  return n;
}

function parseValueMask(token: string): [number, number | undefined] {
  const slash = token.indexOf('/');
  if (slash < 0) return [parseNumber(token), undefined];
  return [parseNumber(token.slice(0, slash)), parseNumber(token.slice(slash + 1))];
}

function parseTcpFlagList(token: string): number {
  let v = 0;
  for (const name of token.split(',')) {
    const f = tcpFlagNames[name.toUpperCase()];
    if (f === undefined) throw new RuleSyntaxError(token, `unknown TCP flag "${name}" in "${token}"`);
    v |= f;
  }
  return v;
}

interface Cursor {
  tokens: string[];
  i: number;
  /** A pending `!` for the next option. */
  invert: boolean;
}

/** Value of an option; old syntax `--opt ! value` is still accepted by iptables-restore. */
function optValue(c: Cursor, option: string): string {
  let v = takeValue(c, option);
  if (v === '!') {
    c.invert = !c.invert;
    v = takeValue(c, option);
  }
  return v;
}

function bang(c: Cursor): string {
  return c.invert ? '! ' : '';
}

function takeValue(c: Cursor, option: string): string {
  const v = c.tokens[c.i + 1];
  if (v === undefined) throw new RuleSyntaxError(option, `option "${option}" needs a value`);
  c.i++;
  return v;
}

/**
 * Match objects are immutable and fully determined by their text, so identical ones (`-p tcp`,
 * `--dport 22`) are shared: large rulesets repeat them thousands of times.
 */
const internedMatches = new Map<string, Map<string, Match>>();
const internedTargets = new Map<string, Target>();

export function intern(family: Family, mod: string, m: Match): Match {
  // Addresses are mostly unique; hashing them costs more than it saves.
  if (m.kind === 'addrType' || m.kind === 'comment' || m.kind === 'addr') return m;
  const key = family === 'ipv4' ? mod : `6${mod}`;
  let byText = internedMatches.get(key);
  if (!byText) { byText = new Map(); internedMatches.set(key, byText); }
  const hit = byText.get(m.text);
  if (hit) return hit;
  if (byText.size < 50_000) byText.set(m.text, m);
  return m;
}

export function internTarget(t: Target): Target {
  if (t.kind !== 'accept' && t.kind !== 'drop' && t.kind !== 'return' && t.kind !== 'none' && t.kind !== 'reject') return t;
  const key = t.kind === 'reject' ? `reject|${typeof t.with === 'string' ? t.with : t.with.icmpx}` : t.kind;
  const hit = internedTargets.get(key);
  if (hit) return hit;
  internedTargets.set(key, t);
  return t;
}

/** Parses the options after `-A CHAIN` (from `tokens[start]`) into matches and a target. */
export function parseRuleOptions(tokens: string[], family: Family, chains: ReadonlySet<string>, start = 0): ParsedRuleOptions {
  const matches: Match[] = [];
  let target: Target = { kind: 'none' };
  let targetName: string | undefined;
  let targetArgs: string[] = [];
  let module: string | undefined;
  let proto: number | undefined;
  let comment: string | undefined;
  const c: Cursor = { tokens, i: start, invert: false };

  for (; c.i < tokens.length; c.i++) {
    const tok = tokens[c.i] as string;
    if (tok === '!') {
      if (c.invert) throw new RuleSyntaxError(tok, 'two "!" in a row');
      c.invert = true;
      continue;
    }
    if (targetName !== undefined && tok.startsWith('--') && !boundary.has(tok)) {
      target = parseTargetOption(targetName, target, tok, c, family, targetArgs);
      continue;
    }
    switch (tok) {
      case '-s': case '--source': case '--src':
      case '-d': case '--destination': case '--dst': {
        const v = optValue(c, tok);
        const field = tok === '-s' || tok === '--source' || tok === '--src' ? 'src' : 'dst';
        for (const part of v.split(',')) {
          const net = parseNet(part);
          if (!net || net.family !== family) throw new RuleSyntaxError(part, `"${part}" is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address or network`);
          matches.push(new AddrMatch(family, field, net.addr, net.mask, c.invert));
        }
        break;
      }
      case '-i': case '--in-interface': case '-o': case '--out-interface': {
        const v = optValue(c, tok);
        const dir = tok === '-i' || tok === '--in-interface' ? 'in' : 'out';
        if (v.length === 0 || v.length > 15) throw new RuleSyntaxError(v, `"${v}" is not a valid interface name`);
        const wildcard = v.endsWith('+');
        matches.push(intern(family, '', { kind: 'iface', dir, name: wildcard ? v.slice(0, -1) : v, wildcard, invert: c.invert,
          text: `${bang(c)}${dir === 'in' ? '-i' : '-o'} ${v}` }));
        break;
      }
      case '-p': case '--protocol': {
        const v = optValue(c, tok);
        const p = protoNumber(v);
        if (p === undefined) throw new RuleSyntaxError(v, `unknown protocol "${v}"`);
        if (!c.invert) proto = p;
        if (p !== 0 || c.invert) matches.push(intern(family, '', { kind: 'proto', proto: p, invert: c.invert, text: `${bang(c)}-p ${v}` }));
        break;
      }
      case '-f': case '--fragment':
        matches.push({ kind: 'fragment', invert: c.invert, text: `${bang(c)}-f` });
        break;
      case '-m': case '--match': {
        const name = takeValue(c, tok);
        module = name;
        if (!knownModules.has(name)) {
          const start = c.i;
          while (c.i + 1 < tokens.length) {
            const next = tokens[c.i + 1] as string;
            if (boundary.has(next)) break;
            if (next === '!' && boundary.has(tokens[c.i + 2] ?? '')) break;
            c.i++;
          }
          const text = `-m ${tokens.slice(start, c.i + 1).join(' ')}`;
          const args = tokens.slice(start + 1, c.i + 1);
          if (name === 'set') {
            matches.push(parseSetMatch(args, text));
            module = undefined;
            break;
          }
          if (name === 'recent' && args.includes('--set') && !args.includes('!')) {
            // xt_recent --set records the source and always matches (recent_mt).
            matches.push({ kind: 'always', invert: false, text, note: 'records the source in the recent list' });
            module = undefined;
            break;
          }
          matches.push({ kind: 'unknown', invert: false, text,
            reason: unjudgeableReasons[name] ?? `match module "${name}" is not supported by the analyzer` });
          module = undefined;
        }
        break;
      }
      case '-j': case '--jump': case '-g': case '--goto': {
        const name = takeValue(c, tok);
        if (targetName !== undefined) throw new RuleSyntaxError(tok, 'a rule can have only one target');
        targetName = name;
        targetArgs = [];
        target = initialTarget(name, tok === '-g' || tok === '--goto', chains, family);
        break;
      }
      case '-c': // inline counters `-c pkts bytes`
        takeValue(c, tok);
        takeValue(c, tok);
        break;
      case '-4': case '--ipv4': case '-6': case '--ipv6':
        break;
      default: {
        if (!tok.startsWith('-')) throw new RuleSyntaxError(tok, `unexpected "${tok}"`);
        const mod = module ?? implicitModule(proto);
        if (mod === undefined) throw new RuleSyntaxError(tok, `unknown option "${tok}"`);
        const m = parseModuleOption(c, mod, tok, family, matches);
        // Comments always match: keep them on the rule, not as a match to evaluate per packet.
        if (m.kind === 'comment') { if (m.comment !== '') comment = m.comment; } else matches.push(intern(family, mod, m));
      }
    }
    c.invert = false;
  }
  if (c.invert) throw new RuleSyntaxError('!', '"!" at the end of the rule');
  if (target.kind === 'unknown' && targetArgs.length > 0) target = { ...target, reason: `${target.reason} (${targetArgs.join(' ')})` };
  target = internTarget(target);
  return comment === undefined ? { matches, target } : { matches, target, comment };
}

function parseModuleOption(c: Cursor, mod: string, opt: string, fam: Family, matches: Match[]): Match {
  const inv = c.invert;
  const b = inv ? '! ' : '';
  switch (mod) {
    case 'tcp': case 'udp': {
      if (opt === '--sport' || opt === '--source-port' || opt === '--dport' || opt === '--destination-port') {
        const v = optValue(c, opt);
        const field = opt === '--sport' || opt === '--source-port' ? 'sport' : 'dport';
        return { kind: 'ports', field, ranges: [parsePortRange(v)], invert: c.invert, text: `${bang(c)}--${field} ${v}` };
      }
      if (mod === 'tcp' && opt === '--tcp-flags') {
        const maskTok = optValue(c, opt);
        const compTok = takeValue(c, opt);
        return { kind: 'tcpFlags', mask: parseTcpFlagList(maskTok), comp: parseTcpFlagList(compTok), invert: c.invert,
          text: `${bang(c)}--tcp-flags ${maskTok} ${compTok}` };
      }
      if (mod === 'tcp' && opt === '--syn') {
        return { kind: 'tcpFlags', mask: 0x17, comp: TcpFlag.SYN, invert: inv, text: `${b}--syn` };
      }
      if (mod === 'tcp' && opt === '--tcp-option') {
        const v = optValue(c, opt);
        return { kind: 'unknown', invert: false, text: `${b}--tcp-option ${v}`, reason: 'TCP options are not simulated' };
      }
      break;
    }
    case 'multiport': {
      const field = multiportFields[opt];
      if (field) {
        const v = optValue(c, opt);
        const ranges = v.split(',').map((p) => parsePortRange(p));
        if (ranges.length > 15) throw new RuleSyntaxError(v, 'multiport allows at most 15 ports');
        return { kind: 'ports', field, ranges, invert: c.invert, text: `${bang(c)}${opt} ${v}` };
      }
      break;
    }
    case 'icmp': case 'icmp6': {
      if ((mod === 'icmp' && opt === '--icmp-type') || (mod === 'icmp6' && opt === '--icmpv6-type')) {
        const v = optValue(c, opt);
        const spec = parseIcmpTypeSpec(mod === 'icmp' ? 'ipv4' : 'ipv6', v);
        if (!spec) throw new RuleSyntaxError(v, `unknown ICMP type "${v}"`);
        return { kind: 'icmp', family: mod === 'icmp' ? 'ipv4' : 'ipv6', ...spec, invert: c.invert, text: `${bang(c)}${opt} ${v}` };
      }
      break;
    }
    case 'state': case 'conntrack': {
      if ((mod === 'state' && opt === '--state') || (mod === 'conntrack' && opt === '--ctstate')) {
        const v = optValue(c, opt);
        const states = v.split(',').map((s) => s.toUpperCase()) as CtStateName[];
        for (const s of states) {
          if (!ctStates.has(s) || (mod === 'state' && (s === 'SNAT' || s === 'DNAT'))) throw new RuleSyntaxError(v, `unknown conntrack state "${s}"`);
        }
        return { kind: 'ctState', states, invert: c.invert, text: `${bang(c)}${opt} ${v}` };
      }
      if (mod === 'conntrack' && opt === '--ctstatus') {
        const v = optValue(c, opt);
        const statuses = v.split(',').map((s) => s.toUpperCase());
        for (const s of statuses) if (!ctStatuses.has(s)) throw new RuleSyntaxError(v, `unknown conntrack status "${s}"`);
        return { kind: 'ctStatus', statuses, invert: c.invert, text: `${bang(c)}--ctstatus ${v}` };
      }
      if (mod === 'conntrack' && opt === '--ctproto') {
        const v = optValue(c, opt);
        const p = protoNumber(v);
        if (p === undefined) throw new RuleSyntaxError(v, `unknown protocol "${v}"`);
        return { kind: 'proto', proto: p, invert: c.invert, text: `${bang(c)}--ctproto ${v}` };
      }
      if (mod === 'conntrack' && opt === '--ctdir') {
        const v = optValue(c, opt).toUpperCase();
        if (v !== 'ORIGINAL' && v !== 'REPLY') throw new RuleSyntaxError(v, `--ctdir must be ORIGINAL or REPLY, not "${v}"`);
        return { kind: 'ctDir', dir: v === 'ORIGINAL' ? 'original' : 'reply', invert: false, text: `--ctdir ${v}` };
      }
      if (mod === 'conntrack' && /^--ct(orig|repl)(src|dst)(port)?$|^--ctexpire$/.test(opt)) {
        const v = optValue(c, opt);
        return { kind: 'unknown', invert: false, text: `${bang(c)}${opt} ${v}`, reason: 'conntrack tuple fields are not simulated' };
      }
      break;
    }
    case 'addrtype': {
      if (opt === '--src-type' || opt === '--dst-type') {
        const v = optValue(c, opt);
        const types = v.split(',').map((t) => t.toUpperCase());
        for (const t of types) if (!addrTypes.has(t)) throw new RuleSyntaxError(v, `unknown address type "${t}"`);
        const m: Match = { kind: 'addrType', field: opt === '--src-type' ? 'src' : 'dst', types, limitIface: false,
          invert: c.invert, text: `${bang(c)}${opt} ${v}` };
        return m;
      }
      if (opt === '--limit-iface-in' || opt === '--limit-iface-out') {
        const prev = matches[matches.length - 1];
        if (prev?.kind === 'addrType') prev.limitIface = true;
        return { kind: 'comment', comment: '', invert: false, text: opt };
      }
      break;
    }
    case 'iprange': {
      if (opt === '--src-range' || opt === '--dst-range') {
        const v = optValue(c, opt);
        const [a, z] = v.split('-');
        const lo = a === undefined ? undefined : parseIp(a);
        const hi = z === undefined ? lo : parseIp(z);
        if (!lo || !hi || lo.family !== fam || hi.family !== fam) throw new RuleSyntaxError(v, `"${v}" is not an address range`);
        return { kind: 'addrRange', field: opt === '--src-range' ? 'src' : 'dst', ranges: [[lo.value, hi.value]],
          invert: c.invert, text: `${bang(c)}${opt} ${v}` };
      }
      break;
    }
    case 'mark': case 'connmark': {
      if (opt === '--mark') {
        const v = optValue(c, opt);
        const [value, mask] = parseValueMask(v);
        return { kind: 'mark', ct: mod === 'connmark', value, mask: mask ?? 0xffffffff, invert: c.invert,
          text: `${bang(c)}--mark ${v}` };
      }
      break;
    }
    case 'comment': {
      if (opt === '--comment') {
        const v = takeValue(c, opt);
        return { kind: 'comment', comment: v, invert: false, text: `--comment ${v}` };
      }
      break;
    }
    default:
      break;
  }
  throw new RuleSyntaxError(opt, `unknown option "${opt}" for match "${mod}"`);
}

const multiportFields: Record<string, 'sport' | 'dport' | 'either'> = {
  '--sports': 'sport', '--source-ports': 'sport', '--dports': 'dport', '--destination-ports': 'dport', '--ports': 'either',
};

const knownModules = new Set(['tcp', 'udp', 'multiport', 'icmp', 'icmp6', 'state', 'conntrack', 'addrtype', 'iprange',
  'mark', 'connmark', 'comment']);

function implicitModule(proto: number | undefined): string | undefined {
  if (proto === 6) return 'tcp';
  if (proto === 17) return 'udp';
  if (proto === 1) return 'icmp';
  if (proto === 58) return 'icmp6';
  return undefined;
}

function initialTarget(name: string, isGoto: boolean, chains: ReadonlySet<string>, family: Family): Target {
  if (isGoto) {
    if (!chains.has(name)) throw new RuleSyntaxError(name, `-g needs a user chain; "${name}" is not declared in this table`);
    return { kind: 'goto', chain: name };
  }
  switch (name) {
    case 'ACCEPT': return { kind: 'accept' };
    case 'DROP': return { kind: 'drop' };
    case 'RETURN': return { kind: 'return' };
    case 'REJECT': return { kind: 'reject', with: defaultRejectWith(family) };
    case 'NOTRACK': return { kind: 'notrack' };
    case 'MARK': return { kind: 'setMark', ct: false, value: 0, mask: 0 };
    case 'CONNMARK': return { kind: 'nonTerminal', name: 'CONNMARK' };
    // Every CT rule but --notrack attaches a conntrack template (xt_ct_tg_check), even without options.
    case 'CT': return { kind: 'ctTemplate', name: 'CT', overridesNotrack: false };
    case 'DNAT': return { kind: 'dnat' };
    case 'REDIRECT': return { kind: 'redirect' };
    case 'SNAT': return { kind: 'snat', name: 'SNAT' };
    case 'MASQUERADE': return { kind: 'snat', name: 'MASQUERADE' };
    default:
      if (chains.has(name)) return { kind: 'jump', chain: name };
      if (nonTerminalTargets.has(name)) return { kind: 'nonTerminal', name };
      return { kind: 'unknown', name, reason: `target "${name}" is not understood by the analyzer` };
  }
}

function parseTargetOption(name: string, target: Target, opt: string, c: Cursor, family: Family, args: string[]): Target {
  switch (name) {
    case 'REJECT':
      if (opt === '--reject-with') {
        const v = takeValue(c, opt);
        const w = parseRejectWith(family, v);
        if (!w) throw new RuleSyntaxError(v, `unknown --reject-with type "${v}" for ${family === 'ipv4' ? 'iptables' : 'ip6tables'}`);
        return { kind: 'reject', with: w };
      }
      break;
    case 'MARK': case 'CONNMARK': {
      const ct = name === 'CONNMARK';
      const prev = target;
      if (opt === '--set-xmark' || opt === '--set-mark') {
        const [v, m] = parseValueMask(takeValue(c, opt));
        const mask = opt === '--set-xmark' ? (m ?? 0xffffffff) : ((v | (m ?? 0xffffffff)) >>> 0);
        return { kind: 'setMark', ct, value: v, mask };
      }
      if (opt === '--and-mark') return { kind: 'setMark', ct, value: 0, mask: (~parseNumber(takeValue(c, opt))) >>> 0 };
      if (opt === '--or-mark') { const v = parseNumber(takeValue(c, opt)); return { kind: 'setMark', ct, value: v, mask: v }; }
      if (opt === '--xor-mark') return { kind: 'setMark', ct, value: parseNumber(takeValue(c, opt)), mask: 0 };
      if (ct && opt === '--save-mark') return { kind: 'connmarkSave', nfMask: 0xffffffff, ctMask: 0xffffffff };
      if (ct && opt === '--restore-mark') return { kind: 'connmarkRestore', nfMask: 0xffffffff, ctMask: 0xffffffff };
      if (ct && (opt === '--nfmask' || opt === '--ctmask' || opt === '--mask')) {
        const v = parseNumber(takeValue(c, opt));
        if (prev.kind === 'connmarkSave' || prev.kind === 'connmarkRestore') {
          return {
            ...prev,
            nfMask: opt === '--ctmask' ? prev.nfMask : v,
            ctMask: opt === '--nfmask' ? prev.ctMask : v,
          };
        }
        return prev;
      }
      break;
    }
    case 'CT':
      if (opt === '--notrack') return { kind: 'notrack' };
      if (['--zone-orig', '--zone-reply'].includes(opt)) return target;
      if (opt === '--zone' && target.kind === 'ctTemplate') return { ...target, zone: parseNumber(takeValue(c, opt)) };
      if (['--helper', '--ctevents', '--expevents', '--zone', '--timeout'].includes(opt)) { takeValue(c, opt); return target; }
      break;
    case 'DNAT': {
      if (opt === '--to-destination') {
        const v = takeValue(c, opt);
        return parseDnat(v, family);
      }
      if (opt === '--random' || opt === '--persistent') return target;
      break;
    }
    case 'REDIRECT': case 'MASQUERADE': {
      if (opt === '--to-ports') {
        const v = takeValue(c, opt);
        const [lo, hi] = v.split('-');
        const pmin = parsePort(v, lo ?? '');
        const pmax = hi === undefined ? pmin : parsePort(v, hi);
        return name === 'REDIRECT' ? { kind: 'redirect', portMin: pmin, portMax: pmax } : target;
      }
      if (opt === '--random' || opt === '--random-fully') return target;
      break;
    }
    case 'SNAT':
      if (opt === '--to-source') {
        const v = takeValue(c, opt);
        const addr = parseNatAddress(v, family, '--to-source').addr;
        return addr === undefined ? target : { kind: 'snat', name: 'SNAT', addr };
      }
      if (['--random', '--random-fully', '--persistent'].includes(opt)) return target;
      break;
    case 'LOG':
      if (['--log-prefix', '--log-level'].includes(opt)) { takeValue(c, opt); return target; }
      if (['--log-tcp-sequence', '--log-tcp-options', '--log-ip-options', '--log-uid', '--log-macdecode'].includes(opt)) return target;
      break;
    case 'NFLOG':
      if (['--nflog-group', '--nflog-prefix', '--nflog-range', '--nflog-size', '--nflog-threshold'].includes(opt)) { takeValue(c, opt); return target; }
      break;
    default: {
      // Targets the analyzer treats generically: keep their arguments for the report.
      if (target.kind === 'nonTerminal' || target.kind === 'unknown') {
        args.push(opt);
        const next = c.tokens[c.i + 1];
        if (next !== undefined && !next.startsWith('-')) { args.push(next); c.i++; }
        return target;
      }
    }
  }
  throw new RuleSyntaxError(opt, `unknown option "${opt}" for target ${name}`);
}

function parseDnat(v: string, family: Family): Target {
  const { addr, portMin, portMax } = parseNatAddress(v, family, '--to-destination');
  const t: Target = { kind: 'dnat' };
  if (addr !== undefined) t.addr = addr;
  if (portMin !== undefined) { t.portMin = portMin; t.portMax = portMax ?? portMin; }
  return t;
}

/** `ip[-ip][:port[-port]]` (IPv6: `[addr]:port`); of an address range only the first is kept. */
function parseNatAddress(v: string, family: Family, option: string): { addr?: bigint; portMin?: number; portMax?: number } {
  let addrPart = v;
  let portPart: string | undefined;
  if (family === 'ipv6') {
    const m = /^\[([^\]]+)\](?::(.+))?$/.exec(v);
    if (m) { addrPart = m[1] as string; portPart = m[2]; }
  } else {
    const colon = v.indexOf(':');
    if (colon >= 0) { addrPart = v.slice(0, colon); portPart = v.slice(colon + 1); }
  }
  const first = addrPart.split('-')[0] ?? '';
  const ip = first === '' ? undefined : parseIp(first);
  if (first !== '' && (!ip || ip.family !== family)) throw new RuleSyntaxError(v, `"${v}" is not a valid ${option}`);
  const out: { addr?: bigint; portMin?: number; portMax?: number } = {};
  if (ip) out.addr = ip.value & allOnes(family);
  if (portPart !== undefined) {
    const [lo, hi] = portPart.split('-');
    out.portMin = parsePort(v, lo ?? '');
    out.portMax = hi === undefined ? out.portMin : parsePort(v, hi);
  }
  return out;
}
