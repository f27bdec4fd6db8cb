import { ErrorCode, WhyBlockedError } from '../../errors.ts';
import type { BigRange, Chain, ChainType, CtStateName, Family, FieldKey, Hook, Match, RejectSpec, Rule, Ruleset, Table, TableFamily, Target } from '../model.ts';
import { TcpFlag } from '../model.ts';
import { allOnes, parseIp, prefixMask } from '../ip-address.ts';
import { nftIcmpType, nftRejectCode, protoNumber } from '../protocols.ts';
import { renderNftStatements } from './render-nft.ts';

export interface ParseNftOptions {
  source?: string;
}

type Json = unknown;
type Obj = Record<string, Json>;

const isObj = (v: Json): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const familyMap: Record<string, TableFamily | undefined> = { ip: 'ipv4', ip6: 'ipv6', inet: 'inet' };
const hooks = new Set<Hook>(['prerouting', 'input', 'forward', 'output', 'postrouting']);

interface NamedSet {
  elems: Json[];
}

interface Ctx {
  family: TableFamily;
  sets: Map<string, NamedSet>;
}

/** Thrown inside expression conversion; becomes an `unknown` match, not a parse failure. */
class Unsupported extends Error {}

const payloadFields: Record<string, FieldKey> = {
  'ip.saddr': 'ip.saddr', 'ip.daddr': 'ip.daddr', 'ip.protocol': 'ip.protocol',
  'ip6.saddr': 'ip6.saddr', 'ip6.daddr': 'ip6.daddr', 'ip6.nexthdr': 'ip6.nexthdr',
  'tcp.sport': 'tcp.sport', 'tcp.dport': 'tcp.dport', 'udp.sport': 'udp.sport', 'udp.dport': 'udp.dport',
  'th.sport': 'th.sport', 'th.dport': 'th.dport', 'icmp.type': 'icmp.type', 'icmp.code': 'icmp.code',
  'icmpv6.type': 'icmpv6.type', 'icmpv6.code': 'icmpv6.code',
};

type Left =
  | { kind: 'fields'; fields: FieldKey[] }
  /** `ip saddr & 255.0.255.0` (a non-contiguous mask; contiguous ones are listed as prefixes). */
  | { kind: 'maskedAddr'; field: 'src' | 'dst'; family: Family; mask: bigint }
  /** `ip frag-off & 0x1fff`: the fragment offset, non-zero for every fragment but the first (iptables `-f`). */
  | { kind: 'fragOffset' }
  | { kind: 'iface'; dir: 'in' | 'out' }
  | { kind: 'ctState' }
  | { kind: 'ctStatus' }
  | { kind: 'ctDir' }
  | { kind: 'tcpFlags'; mask: number }
  | { kind: 'markMask'; ct: boolean; mask: number }
  | { kind: 'fibType'; field: 'src' | 'dst' };

const flagBits: Record<string, number> = { fin: TcpFlag.FIN, syn: TcpFlag.SYN, rst: TcpFlag.RST, psh: TcpFlag.PSH,
  ack: TcpFlag.ACK, urg: TcpFlag.URG, ecn: TcpFlag.ECE, cwr: TcpFlag.CWR };

function flagsValue(v: Json): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const b = flagBits[v];
    if (b === undefined) throw new Unsupported(`unknown TCP flag ${v}`);
    return b;
  }
  if (Array.isArray(v)) return v.reduce<number>((acc, x) => acc | flagsValue(x), 0);
  if (isObj(v) && Array.isArray(v['|'])) return flagsValue(v['|']);
  if (isObj(v) && Array.isArray(v.set)) return flagsValue(v.set);
  throw new Unsupported('unsupported TCP flags value');
}

function fieldOf(e: Json): FieldKey | Left {
  if (!isObj(e)) throw new Unsupported('unsupported expression');
  if (isObj(e.payload)) {
    const p = e.payload;
    const key = `${String(p.protocol)}.${String(p.field)}`;
    if (key === 'tcp.flags') return 'tcp.flags';
    const f = payloadFields[key];
    if (!f) throw new Unsupported(`payload ${key} is not simulated`);
    return f;
  }
  if (isObj(e.meta)) {
    const k = String(e.meta.key);
    if (k === 'iifname' || k === 'iif') return { kind: 'iface', dir: 'in' };
    if (k === 'oifname' || k === 'oif') return { kind: 'iface', dir: 'out' };
    if (k === 'l4proto') return 'meta.l4proto';
    if (k === 'nfproto' || k === 'protocol') return 'meta.nfproto';
    if (k === 'mark') return 'meta.mark';
    throw new Unsupported(`meta ${k} is not simulated`);
  }
  if (isObj(e.ct)) {
    const k = String(e.ct.key);
    if (k === 'state') return { kind: 'ctState' };
    if (k === 'status') return { kind: 'ctStatus' };
    if (k === 'direction') return { kind: 'ctDir' };
    if (k === 'mark') return 'ct.mark';
    throw new Unsupported(`ct ${k} is not simulated`);
  }
  if (isObj(e.fib)) {
    // `fib saddr|daddr type` without iif/oif is inet_dev_addr_type(net, NULL, addr): addrtype over the host's addresses.
    const flags = Array.isArray(e.fib.flags) ? e.fib.flags : [e.fib.flags];
    if (e.fib.result === 'type' && flags.length === 1 && (flags[0] === 'saddr' || flags[0] === 'daddr')) return { kind: 'fibType', field: flags[0] === 'saddr' ? 'src' : 'dst' };
    throw new Unsupported('fib needs the routing table, which a ruleset dump does not contain');
  }
  if (isObj(e) && Array.isArray(e['&'])) {
    const [l, r] = e['&'] as Json[];
    if (isObj(l) && isObj(l.payload) && l.payload.protocol === 'ip' && l.payload.field === 'frag-off' && r === 0x1fff) return { kind: 'fragOffset' };
    const inner = fieldOf(l);
    if (inner === 'tcp.flags') return { kind: 'tcpFlags', mask: flagsValue(r) };
    if ((inner === 'meta.mark' || inner === 'ct.mark') && typeof r === 'number') return { kind: 'markMask', ct: inner === 'ct.mark', mask: r >>> 0 };
    if (typeof inner === 'string' && isAddrField(inner) && typeof r === 'string') {
      const family: Family = inner.startsWith('ip6') ? 'ipv6' : 'ipv4';
      const mask = parseIp(r);
      if (mask?.family !== family) throw new Unsupported(`address mask ${r}`);
      return { kind: 'maskedAddr', field: inner.endsWith('saddr') ? 'src' : 'dst', family, mask: mask.value };
    }
    throw new Unsupported('bitwise expression is not simulated');
  }
  throw new Unsupported(`expression ${Object.keys(e)[0] ?? '?'} is not simulated`);
}

function leftOf(e: Json): Left {
  if (isObj(e) && Array.isArray(e.concat)) {
    const fields = (e.concat as Json[]).map((x) => {
      const f = fieldOf(x);
      if (typeof f !== 'string') throw new Unsupported('concatenation of non-numeric fields is not simulated');
      return f;
    });
    return { kind: 'fields', fields };
  }
  const f = fieldOf(e);
  return typeof f === 'string' ? { kind: 'fields', fields: [f] } : f;
}

function isAddrField(f: FieldKey): boolean {
  return f.endsWith('addr');
}

function scalar(f: FieldKey, v: Json): bigint {
  if (isAddrField(f)) {
    const ip = typeof v === 'string' ? parseIp(v) : undefined;
    if (!ip) throw new Unsupported(`"${String(v)}" is not an address`);
    return ip.value;
  }
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'string') {
    if (/^(0x[0-9a-f]+|\d+)$/i.test(v)) return BigInt(v);
    if (f === 'meta.l4proto' || f === 'ip.protocol' || f === 'ip6.nexthdr') {
      const p = protoNumber(v);
      if (p !== undefined) return BigInt(p);
    }
    if (f === 'meta.nfproto') {
      if (v === 'ipv4' || v === 'ip') return 2n;
      if (v === 'ipv6' || v === 'ip6') return 10n;
    }
    if (f === 'icmp.type' || f === 'icmpv6.type') {
      const t = nftIcmpType(f === 'icmp.type' ? 'ipv4' : 'ipv6', v);
      if (t !== undefined) return BigInt(t);
    }
  }
  throw new Unsupported(`value ${JSON.stringify(v)} for ${f} is not understood`);
}

function rangeOf(f: FieldKey, v: Json, family: Family | undefined): BigRange {
  if (isObj(v) && isObj(v.prefix)) {
    const addr = scalar(f, v.prefix.addr);
    const fam: Family = family ?? (f.startsWith('ip6') ? 'ipv6' : 'ipv4');
    const mask = prefixMask(fam, Number(v.prefix.len));
    return [addr & mask, (addr & mask) | (~mask & allOnes(fam))];
  }
  if (isObj(v) && Array.isArray(v.range)) return [scalar(f, v.range[0]), scalar(f, v.range[1])];
  if (isObj(v) && isObj(v.elem)) return rangeOf(f, v.elem.val, family);
  const s = scalar(f, v);
  return [s, s];
}

function elementsOf(fields: FieldKey[], right: Json, ctx: Ctx): BigRange[][] {
  const famOf = (f: FieldKey): Family | undefined => (f.startsWith('ip6') ? 'ipv6' : f.startsWith('ip.') ? 'ipv4' : undefined);
  const one = (v: Json): BigRange[] => {
    if (isObj(v) && isObj(v.elem)) return one(v.elem.val);
    if (fields.length > 1) {
      const parts = isObj(v) && Array.isArray(v.concat) ? (v.concat as Json[]) : undefined;
      if (!parts || parts.length !== fields.length) throw new Unsupported('concatenated element does not fit the key');
      return parts.map((p, i) => rangeOf(fields[i] as FieldKey, p, famOf(fields[i] as FieldKey)));
    }
    return [rangeOf(fields[0] as FieldKey, v, famOf(fields[0] as FieldKey))];
  };
  if (typeof right === 'string' && right.startsWith('@')) {
    const set = ctx.sets.get(right.slice(1));
    if (!set) throw new Unsupported(`set ${right} is not in the dump`);
    return set.elems.map(one);
  }
  if (isObj(right) && Array.isArray(right.set)) return (right.set as Json[]).map(one);
  if (Array.isArray(right)) return right.map(one);
  return [one(right)];
}

function strings(v: Json): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (isObj(v) && Array.isArray(v.set)) return strings(v.set);
  if (isObj(v) && Array.isArray(v['|'])) return strings(v['|']);
  throw new Unsupported('expected names');
}

function matchOf(m: Obj, ctx: Ctx, text: string): Match {
  const op = String(m.op ?? '==');
  // `!` is nft's negated bit test (`tcp flags & psh == 0` lists as `tcp flags ! psh`).
  const invert = op === '!=' || op === '!';
  const left = leftOf(m.left);
  const right = m.right;
  switch (left.kind) {
    case 'iface': {
      const names = strings(right);
      if (names.length !== 1 || (op !== '==' && op !== '!=')) throw new Unsupported('interface sets are not simulated');
      const raw = names[0] as string;
      const wildcard = raw.endsWith('*') && !raw.endsWith('\\*');
      const name = wildcard ? raw.slice(0, -1) : raw.replace(/\\\*$/, '*');
      return { kind: 'iface', dir: left.dir, name, wildcard, invert, text };
    }
    case 'ctState': {
      const states = strings(right).map((s) => s.toUpperCase() as CtStateName);
      // `in` tests bits (any of); `==`/`!=` with `a|b` compare the whole state word (nft 1.0.6 `cmp`).
      const exact = op !== 'in' && op !== '!' && isObj(right) && Array.isArray(right['|']);
      return exact ? { kind: 'ctState', states, exact, invert, text } : { kind: 'ctState', states, invert, text };
    }
    case 'ctStatus': {
      // `in` tests bits (any of); `==`/`!=` compare the whole status word (nft 1.0.6 `cmp eq|neq`).
      if (op !== 'in' && op !== '!' && op !== '==' && op !== '!=') throw new Unsupported(`ct status ${op}`);
      const statuses = strings(right).map((s) => s.toUpperCase().replace('-', '_'));
      return op === '==' || op === '!=' ? { kind: 'ctStatus', statuses, exact: true, invert, text } : { kind: 'ctStatus', statuses, invert, text };
    }
    case 'maskedAddr': {
      if (op !== '==' && op !== '!=') throw new Unsupported(`masked address ${op}`);
      const addr = typeof right === 'string' ? parseIp(right) : undefined;
      if (addr?.family !== left.family) throw new Unsupported(`"${String(right)}" is not an address`);
      return { kind: 'addr', field: left.field, addr: addr.value & left.mask, mask: left.mask, family: left.family, invert, text };
    }
    case 'fragOffset': {
      // `& 0x1fff != 0` is iptables `-f` (a non-first fragment); `== 0` is `! -f`.
      if ((op !== '==' && op !== '!=') || numberOf(right) !== 0) throw new Unsupported(`ip frag-off & 0x1fff ${op} ${String(right)}`);
      return { kind: 'fragment', invert: op === '==', text };
    }
    case 'fibType': {
      if (op !== '==' && op !== '!=') throw new Unsupported(`fib type ${op}`);
      return { kind: 'addrType', field: left.field, types: strings(right).map((t) => t.toUpperCase()), limitIface: false, fib: true, invert, text };
    }
    case 'ctDir': {
      const d = strings(right)[0];
      return { kind: 'ctDir', dir: d === 'reply' ? 'reply' : 'original', invert, text };
    }
    case 'tcpFlags': {
      // `tcp flags & (mask) == comp` / `!= comp`.
      const comp = flagsValue(right);
      if (op !== '==' && op !== '!=') throw new Unsupported(`tcp flags & … ${op}`);
      return { kind: 'tcpFlags', mask: left.mask, comp, invert, text };
    }
    case 'markMask': {
      // `meta mark & 0xff == 0x1`: the xt mark match's (mark & mask) == value.
      if (op !== '==' && op !== '!=') throw new Unsupported(`mark & … ${op}`);
      const value = numberOf(right);
      if (value === undefined) throw new Unsupported('mark value');
      return left.ct ? { kind: 'mark', ct: true, nft: true, value: value >>> 0, mask: left.mask, invert, text } : { kind: 'mark', ct: false, value: value >>> 0, mask: left.mask, invert, text };
    }
    case 'fields': {
      const { fields } = left;
      if (fields.length === 1 && fields[0] === 'tcp.flags') {
        // `tcp flags syn` / `tcp flags fin,syn` (op in): any of these bits; `==`/`!=` a value: exact.
        if (op === 'in') return { kind: 'tcpFlags', mask: flagsValue(right), comp: 0, invert: true, text };
        if (op === '!') return { kind: 'tcpFlags', mask: flagsValue(right), comp: 0, invert: false, text };
        if (!(isObj(right) && Array.isArray(right.set))) {
          return { kind: 'tcpFlags', mask: 0xff, comp: flagsValue(right), invert, text };
        }
        const elements = (right.set as Json[]).map((v) => { const f = BigInt(flagsValue(v)); return [[f, f] as BigRange]; });
        return { kind: 'values', fields, elements, invert, text };
      }
      if (['<', '>', '<=', '>='].includes(op)) {
        if (fields.length !== 1) throw new Unsupported('comparison on a concatenation');
        const f = fields[0] as FieldKey;
        const v = scalar(f, right);
        const max = isAddrField(f) ? allOnes(f.startsWith('ip6') ? 'ipv6' : 'ipv4') : 0xffffffffn;
        const r: BigRange = op === '<' ? [0n, v - 1n] : op === '<=' ? [0n, v] : op === '>' ? [v + 1n, max] : [v, max];
        return { kind: 'values', fields, elements: [[r]], invert: false, text };
      }
      if (op !== '==' && op !== '!=' && op !== 'in') throw new Unsupported(`operator ${op}`);
      return { kind: 'values', fields, elements: elementsOf(fields, right, ctx), invert, text };
    }
  }
}

function rejectOf(v: Json, family: TableFamily): RejectSpec {
  if (!isObj(v)) return family === 'inet' ? { icmpx: 'port-unreachable' } : family === 'ipv4' ? 'icmp-port-unreachable' : 'icmp6-port-unreachable';
  const type = String(v.type ?? '');
  const code = v.expr === undefined ? 'port-unreachable' : String(v.expr);
  if (type === 'tcp reset') return 'tcp-reset';
  if (type === 'icmpx') {
    if (code === 'port-unreachable' || code === 'admin-prohibited' || code === 'no-route' || code === 'host-unreachable') return { icmpx: code };
    throw new Unsupported(`reject with icmpx ${code}`);
  }
  const w = nftRejectCode(type === 'icmpv6' ? 'ipv6' : 'ipv4', code);
  if (!w) throw new Unsupported(`reject with ${type} ${code}`);
  return w;
}

function verdictOf(s: Obj, ctx: Ctx): Target | undefined {
  if ('accept' in s) return { kind: 'accept' };
  if ('drop' in s) return { kind: 'drop' };
  if ('continue' in s) return { kind: 'none' };
  if ('return' in s) return { kind: 'return' };
  if (isObj(s.jump)) return { kind: 'jump', chain: String(s.jump.target) };
  if (isObj(s.goto)) return { kind: 'goto', chain: String(s.goto.target) };
  if ('reject' in s) return { kind: 'reject', with: rejectOf(s.reject, ctx.family) };
  return undefined;
}

function numberOf(v: Json): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}

function isMarkRef(e: Json, which: 'meta' | 'ct'): boolean {
  return isObj(e) && isObj(e[which]) && (e[which] as Obj).key === 'mark';
}

/**
 * `mark set <expr>` as xt_MARK's mark = (mark & ~mask) ^ value. Handles a constant,
 * `mark | B`, `mark & A`, `(mark & A) | B` and `mark ^ C`, the forms nft prints for set/or/and/xor.
 */
function markAssignment(v: Json, which: 'meta' | 'ct'): { value: number; mask: number } | undefined {
  const n = numberOf(v);
  if (n !== undefined) return { value: n >>> 0, mask: 0xffffffff };
  if (!isObj(v)) return undefined;
  const andPart = (e: Json): number | undefined => {
    if (isMarkRef(e, which)) return 0xffffffff;
    if (isObj(e) && Array.isArray(e['&']) && isMarkRef(e['&'][0], which)) return numberOf(e['&'][1]);
    return undefined;
  };
  if (Array.isArray(v['|'])) {
    const a = andPart(v['|'][0]);
    const b = numberOf(v['|'][1]);
    if (a === undefined || b === undefined) return undefined;
    return { value: b >>> 0, mask: (~(a & ~b)) >>> 0 };
  }
  if (Array.isArray(v['&'])) {
    const a = andPart(v);
    return a === undefined ? undefined : { value: 0, mask: (~a) >>> 0 };
  }
  if (Array.isArray(v['^']) && isMarkRef(v['^'][0], which)) {
    const c = numberOf(v['^'][1]);
    return c === undefined ? undefined : { value: c >>> 0, mask: 0 };
  }
  return undefined;
}

interface RuleParts {
  matches: Match[];
  actions: Target[];
  target: Target;
  xt: boolean;
}

function convertRule(exprs: Json[], ctx: Ctx): RuleParts {
  const matches: Match[] = [];
  const actions: Target[] = [];
  let xt = false;
  for (const st of exprs) {
    if (!isObj(st)) continue;
    const text = renderNftStatements([st]);
    const verdict = (() => {
      try { return verdictOf(st, ctx); } catch (e) {
        if (e instanceof Unsupported) return { kind: 'unknown', name: 'reject', reason: e.message } as Target;
        throw e;
      }
    })();
    if (verdict) return { matches, actions, target: verdict, xt };
    if (isObj(st.match)) {
      try {
        matches.push(matchOf(st.match, ctx, text));
      } catch (e) {
        if (!(e instanceof Unsupported)) throw e;
        matches.push({ kind: 'unknown', invert: false, text, reason: e.message });
      }
      continue;
    }
    if ('xt' in st) { xt = true; continue; }
    if ('counter' in st || 'log' in st) continue;
    if ('limit' in st || 'quota' in st) {
      matches.push({ kind: 'unknown', invert: false, text, reason: 'rate/quota state is not in the dump' });
      continue;
    }
    if (isObj(st.mangle)) {
      const key = st.mangle.key;
      const ct = isObj(key) && isObj(key.ct) && key.ct.key === 'mark';
      const meta = isObj(key) && isObj(key.meta) && key.meta.key === 'mark';
      const set = ct || meta ? markAssignment(st.mangle.value, ct ? 'ct' : 'meta') : undefined;
      const zone = isObj(key) && isObj(key.ct) && key.ct.key === 'zone';
      const nftrace = isObj(key) && isObj(key.meta) && key.meta.key === 'nftrace';
      if (zone) {
        const value = numberOf(st.mangle.value);
        actions.push({ kind: 'ctTemplate', name: text, overridesNotrack: true, ...(value === undefined ? {} : { zone: value }) });
        continue;
      }
      if (nftrace) { actions.push({ kind: 'nonTerminal', name: text }); continue; }
      if (set) actions.push({ kind: 'setMark', ct, value: set.value, mask: set.mask });
      else if (ct && isMarkRef(st.mangle.value, 'meta')) actions.push({ kind: 'connmarkSave', nfMask: 0xffffffff, ctMask: 0xffffffff });
      else if (meta && isMarkRef(st.mangle.value, 'ct')) actions.push({ kind: 'connmarkRestore', nfMask: 0xffffffff, ctMask: 0xffffffff });
      else actions.push({ kind: 'unknown', name: text, reason: 'the analyzer does not simulate this statement' });
      continue;
    }
    if ('notrack' in st) { actions.push({ kind: 'notrack' }); continue; }
    if ('dnat' in st) {
      const d = isObj(st.dnat) ? st.dnat : {};
      const t: Target = { kind: 'dnat' };
      const ip = typeof d.addr === 'string' ? parseIp(d.addr) : undefined;
      if (ip) t.addr = ip.value;
      const port = numberOf(d.port);
      if (port !== undefined) { t.portMin = port; t.portMax = port; }
      return { matches, actions, target: t, xt };
    }
    if ('redirect' in st) {
      const d = isObj(st.redirect) ? st.redirect : {};
      const port = numberOf(d.port);
      return { matches, actions, target: port === undefined ? { kind: 'redirect' } : { kind: 'redirect', portMin: port, portMax: port }, xt };
    }
    if ('snat' in st) {
      const d = isObj(st.snat) ? st.snat : {};
      const ip = typeof d.addr === 'string' ? parseIp(d.addr) : undefined;
      return { matches, actions, target: ip ? { kind: 'snat', name: 'SNAT', addr: ip.value } : { kind: 'snat', name: 'SNAT' }, xt };
    }
    if ('masquerade' in st) return { matches, actions, target: { kind: 'snat', name: 'MASQUERADE' }, xt };
    if (isObj(st.vmap)) {
      try {
        const left = leftOf(st.vmap.key);
        if (left.kind !== 'fields') throw new Unsupported('verdict map on a non-numeric key');
        const data = st.vmap.data;
        let pairs: Json[];
        if (typeof data === 'string' && data.startsWith('@')) {
          const set = ctx.sets.get(data.slice(1));
          if (!set) throw new Unsupported(`map ${data} is not in the dump`);
          pairs = set.elems;
        } else if (isObj(data) && Array.isArray(data.set)) pairs = data.set as Json[];
        else throw new Unsupported('verdict map data');
        const entries = pairs.map((p) => {
          if (!Array.isArray(p) || p.length !== 2) throw new Unsupported('verdict map element');
          const verdict = isObj(p[1]) ? verdictOf(p[1], ctx) : undefined;
          if (!verdict) throw new Unsupported('verdict map value');
          const element = elementsOf(left.fields, p[0], ctx)[0] as BigRange[];
          return { element, verdict };
        });
        return { matches, actions, target: { kind: 'vmap', fields: left.fields, entries }, xt };
      } catch (e) {
        if (!(e instanceof Unsupported)) throw e;
        return { matches, actions, target: { kind: 'unknown', name: 'vmap', reason: e.message }, xt };
      }
    }
    if ('set' in st || 'map' in st || 'ct helper' in st) { actions.push({ kind: 'nonTerminal', name: text }); continue; }
    if ('queue' in st || 'tproxy' in st || 'synproxy' in st) {
      return { matches, actions, target: { kind: 'unknown', name: Object.keys(st)[0] ?? '?', reason: `${text} hands the packet elsewhere` }, xt };
    }
    actions.push({ kind: 'unknown', name: Object.keys(st)[0] ?? '?', reason: `statement "${text}" is not simulated` });
  }
  return { matches, actions, target: { kind: 'none' }, xt };
}

/** Parses `nft -j list ruleset` output. Tables holding iptables-nft `xt` statements are flagged, not guessed. */
export function parseNftJson(text: string, opts: ParseNftOptions = {}): Ruleset {
  const source = opts.source ?? 'nft';
  let doc: Json;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new WhyBlockedError(ErrorCode.RulesetParse, `nft JSON could not be parsed: ${(err as Error).message}. Collect it with \`nft -j list ruleset\`.`,
      { details: { token: text.slice(0, 40) } });
  }
  if (!isObj(doc) || !Array.isArray(doc.nftables)) {
    throw new WhyBlockedError(ErrorCode.RulesetParse, 'nft JSON has no "nftables" array; collect it with `nft -j list ruleset`.',
      { details: { token: text.slice(0, 40) } });
  }
  const warnings: string[] = [];
  const tables = new Map<string, Table>();
  const sets = new Map<string, Map<string, NamedSet>>();
  const xtTables = new Set<string>();
  const key = (family: string, table: string): string => `${family} ${table}`;
  const items = doc.nftables as Json[];
  items.forEach((item, i) => {
    if (!isObj(item)) throw new WhyBlockedError(ErrorCode.RulesetParse, `nft JSON entry ${i + 1} is not an object`, { details: { line: i + 1, token: String(item) } });
  });
  for (const item of items as Obj[]) {
    if (isObj(item.table)) {
      const t = item.table;
      const fam = familyMap[String(t.family)];
      if (!fam) {
        warnings.push(`${source}: table ${String(t.family)} ${String(t.name)} is not simulated (only ip, ip6 and inet tables filter IP traffic at these hooks)`);
        continue;
      }
      tables.set(key(String(t.family), String(t.name)), { source, family: fam, name: String(t.name), chains: new Map() });
    } else if (isObj(item.set) || isObj(item.map)) {
      const s = (item.set ?? item.map) as Obj;
      const k = key(String(s.family), String(s.table));
      const m = sets.get(k) ?? new Map<string, NamedSet>();
      m.set(String(s.name), { elems: Array.isArray(s.elem) ? (s.elem as Json[]) : [] });
      sets.set(k, m);
    }
  }
  for (const item of items as Obj[]) {
    if (!isObj(item.chain)) continue;
    const c = item.chain;
    const table = tables.get(key(String(c.family), String(c.table)));
    if (!table) continue;
    const chain: Chain = { name: String(c.name), rules: [] };
    if (typeof c.hook === 'string') {
      if (hooks.has(c.hook as Hook)) {
        chain.base = { hook: c.hook as Hook, priority: Number(c.prio ?? 0), policy: c.policy === 'drop' ? 'drop' : 'accept',
          type: (['filter', 'nat', 'route'].includes(String(c.type)) ? String(c.type) : 'filter') as ChainType };
      } else {
        warnings.push(`${source}: chain ${table.name} ${chain.name} on hook ${c.hook} is not simulated`);
      }
    }
    table.chains.set(chain.name, chain);
  }
  for (const item of items as Obj[]) {
    if (!isObj(item.rule)) continue;
    const r = item.rule;
    const tk = key(String(r.family), String(r.table));
    const table = tables.get(tk);
    const chain = table?.chains.get(String(r.chain));
    if (!table || !chain) continue;
    const exprs = Array.isArray(r.expr) ? (r.expr as Json[]) : [];
    const ctx: Ctx = { family: table.family, sets: sets.get(tk) ?? new Map() };
    const parts = convertRule(exprs, ctx);
    if (parts.xt) xtTables.add(tk);
    const handle = numberOf(r.handle);
    const rule: Rule = {
      position: handle ?? chain.rules.length + 1,
      text: renderNftStatements(exprs),
      matches: parts.matches,
      target: parts.target,
    };
    if (handle !== undefined) rule.handle = handle;
    if (parts.actions.length > 0) rule.actions = parts.actions;
    if (typeof r.comment === 'string') rule.comment = r.comment;
    if (parts.target.kind === 'unknown') warnings.push(`${source} ${table.name} ${chain.name} handle ${handle ?? '?'}: ${parts.target.reason}`);
    chain.rules.push(rule);
  }
  for (const tk of xtTables) {
    const t = tables.get(tk);
    if (!t) continue;
    tables.delete(tk);
    warnings.push(`${source}: table ${tk} contains iptables-nft rules (xt statements whose arguments nft -j does not print); read it from iptables-nft-save instead. It was left out of this analysis.`);
  }
  return { sources: [source], tables: [...tables.values()], warnings };
}

