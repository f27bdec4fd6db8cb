import type { GenMatch, GenNamedSet, GenRule, GenRuleset, GenTarget, GenVmap, NftSetKey, PortRange, RejectWith, TableName } from './ruleset-model.ts';

const HOOK_PRIORITY: Record<TableName, number> = { raw: -300, mangle: -150, nat: -100, filter: 0, security: 50, extra: 10 };
/** After nat INPUT (100) and every generated input chain. */
const OBSERVER_PRIORITY = 500;

/** Comment of the bare `counter` rule that opens every base chain: its delta says the chain was reached. */
export const ENTRY_COMMENT = 'diff-entry';
/** Comment of the bare `counter` rule that closes every base chain: its delta says the policy applied. */
export const EXIT_COMMENT = 'diff-exit';
/** Comment of the bare `counter` rule after every anonymous verdict map: its delta says no element matched (or a jump returned). */
export const VMAP_MISS_COMMENT = 'diff-vmap-miss';
/** Comment of the bare `counter` rule that opens an anonymous verdict map's jump target: its delta says the jump was taken. */
export const VMAP_JUMP_COMMENT = 'diff-vmap-jump';
/** Table of the harness-only input chain that runs after every other one (anonymous vmap oracle). */
export const OBSERVER_TABLE = 'diff_observer';

/**
 * Renders the model as an `nft -f` script (family ip or inet). Every rule carries `counter`, and every
 * base chain is framed by entry and exit counters, because nft has no per-chain policy counters.
 * Returns undefined for rulesets that use something without a one-rule nft equivalent.
 * `priorityShift` moves every base chain, so the script can run beside iptables tables at distinct priorities.
 */
export function renderNft(ruleset: GenRuleset, family: 'ip' | 'ip6' | 'inet', priorityShift = 0): string | undefined {
  if ((ruleset.family === 'ipv6') !== (family === 'ip6') && family !== 'inet') throw new Error(`an ${ruleset.family ?? 'ipv4'} ruleset cannot be rendered as nft family ${family}`);
  const ip = ruleset.family === 'ipv6' ? 'ip6' : 'ip';
  if (!ruleset.tables.every((t) => t.chains.every((c) => c.rules.every(mapsCleanly)))) return undefined;
  const lines: string[] = [`# why-blocked differential seed ${ruleset.seed}`];
  for (const table of ruleset.tables) {
    lines.push(`table ${family} ${table.name} {`);
    for (const set of table.sets ?? []) lines.push(`\t${renderNamedSet(set, ip)}`);
    for (const map of table.vmaps ?? []) lines.push(`\t${renderVmap(map)}`);
    for (const chain of table.chains) {
      lines.push(`\tchain ${chain.name} {`);
      if (chain.hook !== undefined) {
        lines.push(`\t\ttype ${table.name === 'nat' ? 'nat' : 'filter'} hook ${chain.hook.toLowerCase()} priority ${(chain.priority ?? HOOK_PRIORITY[table.name]) + priorityShift}; policy ${(chain.policy ?? 'ACCEPT').toLowerCase()};`);
        lines.push(`\t\tcounter comment "${ENTRY_COMMENT}"`);
      }
      if (chain.vmapTarget === true) lines.push(`\t\tcounter comment "${VMAP_JUMP_COMMENT}"`);
      for (const rule of chain.rules) {
        lines.push(`\t\t${renderNftRule(rule, ip, family === 'inet')}`);
        if (rule.target.kind === 'avmap') lines.push(`\t\tcounter comment "${VMAP_MISS_COMMENT}"`);
      }
      if (chain.hook !== undefined) lines.push(`\t\tcounter comment "${EXIT_COMMENT}"`);
      lines.push('\t}');
    }
    lines.push('}');
  }
  // An anonymous vmap has no per-element counters: whether its accept or its drop was taken is read
  // from this last input chain (an accepted packet reaches it, a dropped one does not).
  if (ruleset.tables.some((t) => t.chains.some((c) => c.rules.some((r) => r.target.kind === 'avmap')))) {
    lines.push(`table ${family} ${OBSERVER_TABLE} {`, '\tchain INPUT {', `\t\ttype filter hook input priority ${OBSERVER_PRIORITY + priorityShift}; policy accept;`);
    lines.push(`\t\tcounter comment "${ENTRY_COMMENT}"`, `\t\tcounter comment "${EXIT_COMMENT}"`, '\t}', '}');
  }
  return `${lines.join('\n')}\n`;
}

const SET_TYPE: Record<NftSetKey, (ip: 'ip' | 'ip6') => string> = {
  saddr: (ip) => (ip === 'ip6' ? 'ipv6_addr' : 'ipv4_addr'),
  daddr: (ip) => (ip === 'ip6' ? 'ipv6_addr' : 'ipv4_addr'),
  sport: () => 'inet_service',
  dport: () => 'inet_service',
  'saddr.dport': (ip) => `${ip === 'ip6' ? 'ipv6_addr' : 'ipv4_addr'} . inet_service`,
};

function renderNamedSet(set: GenNamedSet, ip: 'ip' | 'ip6'): string {
  return `set ${set.name} { type ${SET_TYPE[set.key](ip)};${set.interval ? ' flags interval;' : ''} elements = { ${set.elements.join(', ')} } }`;
}

/** `counter` on the map gives every element its own counter: the one that rose names the verdict taken. */
function renderVmap(map: GenVmap): string {
  const verdict = (v: GenVmap['entries'][number]['verdict']): string => (typeof v === 'string' ? v : `jump ${v.jump}`);
  return `map ${map.name} { type inet_service : verdict; flags interval; counter; elements = { ${map.entries.map((e) => `${portText(e.ports)} : ${verdict(e.verdict)}`).join(', ')} } }`;
}

function renderAvmap(t: Extract<GenTarget, { kind: 'avmap' }>, ip: 'ip' | 'ip6'): string {
  const verdict = (v: typeof t.entries[number]['verdict']): string => (typeof v === 'string' ? v : `jump ${v.jump}`);
  return `${setKeyText(t.key, ip, t.l4)} vmap { ${t.entries.map((e) => `${e.key} : ${verdict(e.verdict)}`).join(', ')} }`;
}

function setKeyText(key: NftSetKey, ip: 'ip' | 'ip6', l4: string): string {
  switch (key) {
    case 'saddr': case 'daddr': return `${ip} ${key}`;
    case 'sport': case 'dport': return `${l4} ${key}`;
    case 'saddr.dport': return `${ip} saddr . ${l4} dport`;
  }
}

function mapsCleanly(rule: GenRule): boolean {
  const m = rule.match;
  if (m.addrtype !== undefined) return false;
  if (m.multiport?.option === 'ports') return false;
  if (m.icmpType?.neg === true && m.icmpType.code !== undefined) return false;
  if (m.stateful !== undefined && m.stateful !== 'limit' && m.stateful !== 'nft-quota') return false;
  if (rule.target.kind === 'TCPOPTSTRIP') return false;
  return true;
}

export function renderNftRule(rule: GenRule, ip: 'ip' | 'ip6' = 'ip', inet = false): string {
  // A verdict map is the rule's verdict: the counter goes before it (it counts lookups, not hits).
  const parts = rule.target.kind === 'vmap'
    ? [...renderMatch(rule.match, ip, inet), 'counter', `${rule.target.l4} dport vmap @${rule.target.map}`]
    : rule.target.kind === 'avmap'
      ? [...renderMatch(rule.match, ip, inet), 'counter', renderAvmap(rule.target, ip)]
      : [...renderMatch(rule.match, ip, inet), 'counter', ...renderTarget(rule.target, inet ? ` ${ip}` : '', ip)];
  if (rule.match.comment !== undefined) parts.push(`comment "${nftString(rule.match.comment)}"`);
  return parts.join(' ');
}

const op = (neg: boolean): string => (neg ? '!= ' : '');

function renderMatch(m: GenMatch, ip: 'ip' | 'ip6', inet = false): string[] {
  const out: string[] = [];
  if (m.src) out.push(`${ip} saddr ${op(m.src.neg)}${m.src.cidr}`);
  if (m.dst) out.push(`${ip} daddr ${op(m.dst.neg)}${m.dst.cidr}`);
  // A non-contiguous mask has no prefix form: nft compares the masked address.
  if (m.maskedAddr) out.push(`ip ${m.maskedAddr.field === 'src' ? 'saddr' : 'daddr'} & ${m.maskedAddr.mask} ${m.maskedAddr.neg ? '!=' : '=='} ${m.maskedAddr.addr}`);
  if (m.inIface) out.push(`iifname ${op(m.inIface.neg)}"${m.inIface.name.replace(/\+$/, '*')}"`);
  if (m.outIface) out.push(`oifname ${op(m.outIface.neg)}"${m.outIface.name.replace(/\+$/, '*')}"`);
  if (m.proto) out.push(`meta l4proto ${op(m.proto.neg)}${m.proto.name === 'icmpv6' ? 'ipv6-icmp' : m.proto.name}`);
  // iptables -f is "fragment offset non-zero" (iptables-nft translates it the same way).
  if (m.fragment) out.push(`ip frag-off & 0x1fff ${m.fragment.neg ? '==' : '!='} 0`);
  const l4 = m.proto !== undefined && !m.proto.neg ? m.proto.name : undefined;
  if (l4 === 'tcp' || l4 === 'udp') {
    if (m.sport) out.push(`${l4} sport ${op(m.sport.neg)}${portText(m.sport)}`);
    if (m.dport) out.push(`${l4} dport ${op(m.dport.neg)}${portText(m.dport)}`);
    if (m.tcpFlags) {
      const comp = m.tcpFlags.comp.length === 0 ? '0x0' : m.tcpFlags.comp.map((f) => f.toLowerCase()).join(' | ');
      out.push(`tcp flags & (${m.tcpFlags.mask.map((f) => f.toLowerCase()).join(' | ')}) ${m.tcpFlags.neg ? '!=' : '=='} ${comp}`);
    }
    if (m.multiport) {
      const field = m.multiport.option === 'sports' ? 'sport' : 'dport';
      out.push(`${l4} ${field} ${op(m.multiport.neg)}{ ${m.multiport.items.map(portText).join(', ')} }`);
    }
  }
  if (m.icmpType) {
    const icmp = ip === 'ip6' ? 'icmpv6' : 'icmp';
    if (m.icmpType.code === undefined) out.push(`${icmp} type ${op(m.icmpType.neg)}${m.icmpType.type}`);
    else out.push(`${icmp} type ${m.icmpType.type} ${icmp} code ${m.icmpType.code}`);
  }
  if (m.iprange) out.push(`${ip} ${m.iprange.option === 'src-range' ? 'saddr' : 'daddr'} ${op(m.iprange.neg)}${m.iprange.lo}-${m.iprange.hi}`);
  if (m.nftSet) {
    const { key, named, elements, neg, l4 } = m.nftSet;
    out.push(`${setKeyText(key, ip, l4 ?? 'tcp')} ${op(neg)}${named !== undefined ? `@${named}` : `{ ${elements.join(', ')} }`}`);
  }
  if (m.fibType) out.push(`fib ${m.fibType.field} type ${op(m.fibType.neg)}${m.fibType.types.length === 1 ? m.fibType.types[0] as string : `{ ${m.fibType.types.join(', ')} }`}`);
  if (m.fibRpf) out.push('fib saddr . iif oif missing');
  // nft refuses `meta nfproto` outside inet tables; there the ethertype says the same (`meta protocol ip`).
  if (m.nfproto) out.push(inet ? `meta nfproto ${op(m.nfproto.neg)}${m.nfproto.value}` : `meta protocol ${op(m.nfproto.neg)}${m.nfproto.value === 'ipv4' ? 'ip' : 'ip6'}`);
  if (m.ctStatus) out.push(`ct status ${op(m.ctStatus.neg)}${m.ctStatus.status}`);
  if (m.stateful === 'limit') out.push('limit rate 1/hour burst 1 packets');
  if (m.stateful === 'nft-quota') out.push('quota until 100 bytes');
  if (m.ctstate) {
    const states = m.ctstate.states.map((s) => s.toLowerCase());
    out.push(`ct state ${op(m.ctstate.neg)}${m.ctstate.nftBraces === true ? `{ ${states.join(', ')} }` : states.join(',')}`);
  }
  if (m.connmark) {
    const value = `0x${m.connmark.value.toString(16)}`;
    out.push(m.connmark.mask === 0xffffffff
      ? `ct mark ${op(m.connmark.neg)}${value}`
      : `ct mark & 0x${m.connmark.mask.toString(16)} ${m.connmark.neg ? '!=' : '=='} ${value}`);
  }
  if (m.mark) {
    const value = `0x${m.mark.value.toString(16)}`;
    out.push(m.mark.mask === 0xffffffff
      ? `meta mark ${op(m.mark.neg)}${value}`
      : `meta mark & 0x${m.mark.mask.toString(16)} ${m.mark.neg ? '!=' : '=='} ${value}`);
  }
  return out;
}

const NFT_REJECT: Record<Exclude<RejectWith, 'tcp-reset'>, string> = {
  'icmp-net-unreachable': 'net-unreachable',
  'icmp-host-unreachable': 'host-unreachable',
  'icmp-port-unreachable': 'port-unreachable',
  'icmp-proto-unreachable': 'prot-unreachable',
  'icmp-net-prohibited': 'net-prohibited',
  'icmp-host-prohibited': 'host-prohibited',
  'icmp-admin-prohibited': 'admin-prohibited',
  'icmp6-no-route': 'no-route',
  'icmp6-adm-prohibited': 'admin-prohibited',
  'icmp6-addr-unreachable': 'addr-unreachable',
  'icmp6-port-unreachable': 'port-unreachable',
  'icmp6-policy-fail': 'policy-fail',
  'icmp6-reject-route': 'reject-route',
};

/** `natFamily` is ` ip` in inet tables, where dnat must name the address family. */
function renderTarget(t: GenTarget, natFamily: string, ip: 'ip' | 'ip6' = 'ip'): string[] {
  switch (t.kind) {
    case 'NONE': return [];
    case 'ACCEPT': case 'DROP': case 'RETURN': return [t.kind.toLowerCase()];
    case 'NOTRACK': return ['notrack'];
    case 'REJECT': {
      if (t.rejectWith === 'tcp-reset') return ['reject with tcp reset'];
      return [`reject with ${t.rejectWith.startsWith('icmp6-') ? 'icmpv6' : 'icmp'} type ${NFT_REJECT[t.rejectWith]}`];
    }
    case 'LOG': return [`log prefix "${nftString(t.prefix)}"`];
    case 'MARK': {
      const value = `0x${t.value.toString(16)}`;
      if (t.mask === 0xffffffff) return [`meta mark set ${value}`];
      // --set-xmark V/M is (mark & ~M) ^ V; the generator keeps V inside M, so ^ equals |.
      return [`meta mark set meta mark & 0x${((~t.mask) >>> 0).toString(16)} | ${value}`];
    }
    case 'DNAT': return [`dnat${natFamily} to ${t.port === undefined ? t.to : `${t.to.includes(':') ? `[${t.to}]` : t.to}:${t.port}`}`];
    case 'REDIRECT': return [t.port === undefined ? 'redirect' : `redirect to :${t.port}`];
    case 'jump': return [`jump ${t.chain}`];
    case 'goto': return [`goto ${t.chain}`];
    case 'vmap': return [`${t.l4} dport vmap @${t.map}`];
    case 'avmap': throw new Error('an anonymous verdict map is rendered by renderAvmap');
    case 'CONTINUE': return ['continue'];
    case 'NFLOG': return [`log group ${t.group}`];
    case 'CONNMARK':
      if (t.op !== 'set') return [t.op === 'save' ? 'ct mark set meta mark' : 'meta mark set ct mark'];
      return [t.mask === 0xffffffff ? `ct mark set 0x${t.value.toString(16)}` : `ct mark set ct mark & 0x${((~t.mask) >>> 0).toString(16)} | 0x${t.value.toString(16)}`];
    case 'CTZONE': return [`ct zone set ${t.zone}`];
    case 'TRACE': return ['meta nftrace set 1'];
    case 'DSCP': return [`${ip} dscp set ${t.dscp}`];
    case 'TCPOPTSTRIP': throw new Error('TCPOPTSTRIP has no nft rendering');
    case 'SNAT': return [`snat${natFamily} to ${t.to}`];
    case 'MASQUERADE': return ['masquerade'];
  }
}

function portText(r: PortRange): string {
  return r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`;
}

/** nft strings cannot carry a double quote. */
function nftString(text: string): string {
  return text.replace(/"/g, "'");
}
