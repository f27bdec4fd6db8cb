import type { GenMatch, GenRule, GenRuleset, GenTarget, PortRange, StatefulMatch, TableName } from './ruleset-model.ts';

const BUILTIN_CHAINS: Record<TableName, string[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
  extra: [],
};

/** Renders the model in iptables-save's canonical form (the form `iptables-save` reads back). */
export function renderIptablesSave(ruleset: GenRuleset): string {
  if (ruleset.tables.some((t) => t.name === 'extra')) throw new Error('the extra table exists only in the nft dialect');
  const lines: string[] = [`# why-blocked differential seed ${ruleset.seed}`];
  // iptables-nft-save's fixed table order (iptables/nft.c), so its readback equals the text.
  const order = ['raw', 'mangle', 'filter', 'security', 'nat'];
  for (const table of [...ruleset.tables].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name))) {
    lines.push(`*${table.name}`);
    for (const name of BUILTIN_CHAINS[table.name]) {
      const chain = table.chains.find((c) => c.name === name);
      lines.push(`:${name} ${chain?.policy ?? 'ACCEPT'} [0:0]`);
    }
    // iptables-save lists built-in chains first, then user chains sorted by name (byte order).
    const userChains = table.chains.filter((c) => c.hook === undefined).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const chain of userChains) lines.push(`:${chain.name} - [0:0]`);
    const builtins = BUILTIN_CHAINS[table.name].flatMap((name) => table.chains.filter((c) => c.name === name && c.hook !== undefined));
    for (const chain of [...builtins, ...userChains]) {
      for (const rule of chain.rules) lines.push(renderRule(chain.name, rule, ruleset.family === 'ipv6'));
    }
    lines.push('COMMIT');
  }
  return `${lines.join('\n')}\n`;
}

export function renderRule(chain: string, rule: GenRule, v6 = false): string {
  return [`-A ${chain}`, ...renderMatch(rule.match, v6), ...renderTarget(rule.target)].join(' ');
}

const bang = (neg: boolean): string => (neg ? '! ' : '');

/** iptables-save names numeric protocols from /etc/protocols (see FINDINGS.md), so `-p 47` reads back as `-p gre`. */
const PROTO_NAMES: Record<number | string, string> = { 47: 'gre', 132: 'sctp', icmpv6: 'ipv6-icmp' };

function renderMatch(m: GenMatch, v6: boolean): string[] {
  const out: string[] = [];
  if (m.src) out.push(`${bang(m.src.neg)}-s ${m.src.cidr}`);
  if (m.dst) out.push(`${bang(m.dst.neg)}-d ${m.dst.cidr}`);
  if (m.maskedAddr) out.push(`${bang(m.maskedAddr.neg)}${m.maskedAddr.field === 'src' ? '-s' : '-d'} ${m.maskedAddr.addr}/${m.maskedAddr.mask}`);
  if (m.inIface) out.push(`${bang(m.inIface.neg)}-i ${m.inIface.name}`);
  if (m.outIface) out.push(`${bang(m.outIface.neg)}-o ${m.outIface.name}`);
  if (m.proto) out.push(`${bang(m.proto.neg)}-p ${PROTO_NAMES[m.proto.name] ?? m.proto.name}`);
  if (m.fragment) out.push(`${bang(m.fragment.neg)}-f`);
  const l4 = m.proto !== undefined && !m.proto.neg ? m.proto.name : undefined;
  if ((l4 === 'tcp' || l4 === 'udp') && (m.sport || m.dport || m.tcpFlags)) {
    const parts = [`-m ${l4}`];
    if (m.sport) parts.push(`${bang(m.sport.neg)}--sport ${portText(m.sport)}`);
    if (m.dport) parts.push(`${bang(m.dport.neg)}--dport ${portText(m.dport)}`);
    if (m.tcpFlags) parts.push(`${bang(m.tcpFlags.neg)}--tcp-flags ${flagList(m.tcpFlags.mask)} ${flagList(m.tcpFlags.comp)}`);
    out.push(parts.join(' '));
  }
  if (m.icmpType) {
    const spec = m.icmpType.code === undefined ? `${m.icmpType.type}` : `${m.icmpType.type}/${m.icmpType.code}`;
    out.push(m.proto?.name === 'icmpv6' ? `-m icmp6 ${bang(m.icmpType.neg)}--icmpv6-type ${spec}` : `-m icmp ${bang(m.icmpType.neg)}--icmp-type ${spec}`);
  }
  if (m.multiport) out.push(`-m multiport ${bang(m.multiport.neg)}--${m.multiport.option} ${m.multiport.items.map(portText).join(',')}`);
  if (m.iprange) out.push(`-m iprange ${bang(m.iprange.neg)}--${m.iprange.option} ${m.iprange.lo}-${m.iprange.hi}`);
  if (m.ctstate) {
    const option = m.ctstate.module === 'state' ? '--state' : '--ctstate';
    out.push(`-m ${m.ctstate.module} ${bang(m.ctstate.neg)}${option} ${m.ctstate.states.join(',')}`);
  }
  if (m.addrtype) out.push(`-m addrtype ${bang(m.addrtype.neg)}--${m.addrtype.option} ${m.addrtype.types.join(',')}`);
  if (m.mark) out.push(`-m mark ${bang(m.mark.neg)}--mark ${markText(m.mark.value, m.mark.mask)}`);
  if (m.ipset) out.push(`-m set ${bang(m.ipset.neg)}--match-set ${m.ipset.name} ${m.ipset.dirs}${m.ipset.returnNomatch === true ? ' --return-nomatch' : ''}`);
  if (m.connmark) out.push(`-m connmark ${bang(m.connmark.neg)}--mark ${markText(m.connmark.value, m.connmark.mask)}`);
  if (m.stateful !== undefined) out.push(v6 ? STATEFUL_IPTABLES[m.stateful].replace('255.255.255.255', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff') : STATEFUL_IPTABLES[m.stateful]);
  if (m.comment !== undefined) out.push(`-m comment --comment ${quote(m.comment)}`);
  return out;
}

/** As iptables-save prints them (defaults filled in), so the readback equals the text. */
const STATEFUL_IPTABLES: Record<StatefulMatch, string> = {
  'limit': '-m limit --limit 1/hour --limit-burst 1',
  'recent-set': '-m recent --set --name diff --mask 255.255.255.255 --rsource',
  'recent-check': '-m recent --rcheck --seconds 60 --name diff --mask 255.255.255.255 --rsource',
  'string': '-m string --string "diff" --algo bm',
  'statistic': '-m statistic --mode nth --every 2 --packet 0',
  'length': '-m length --length 40:60',
  'nft-quota': '',
};

function renderTarget(t: GenTarget): string[] {
  switch (t.kind) {
    case 'NONE': return [];
    case 'ACCEPT': case 'DROP': case 'RETURN': return [`-j ${t.kind}`];
    case 'NOTRACK': return ['-j CT --notrack'];
    case 'REJECT': return [`-j REJECT --reject-with ${t.rejectWith}`];
    case 'LOG': return [`-j LOG --log-prefix ${quote(t.prefix)}`];
    case 'MARK': return [`-j MARK --set-xmark 0x${t.value.toString(16)}/0x${t.mask.toString(16)}`];
    // An IPv6 address with a port is bracketed, as ip6tables-save prints it.
    case 'DNAT': return [`-j DNAT --to-destination ${t.port === undefined ? t.to : `${t.to.includes(':') ? `[${t.to}]` : t.to}:${t.port}`}`];
    case 'REDIRECT': return [t.port === undefined ? '-j REDIRECT' : `-j REDIRECT --to-ports ${t.port}`];
    case 'jump': return [`-j ${t.chain}`];
    case 'goto': return [`-g ${t.chain}`];
    case 'vmap': case 'avmap': throw new Error('verdict maps exist only in the nft dialect');
    case 'CONTINUE': throw new Error('continue exists only in the nft dialect');
    case 'NFLOG': return [`-j NFLOG --nflog-group ${t.group}`];
    case 'CONNMARK':
      // iptables-save spells out the default masks of --save-mark/--restore-mark.
      return [t.op === 'set' ? `-j CONNMARK --set-xmark 0x${t.value.toString(16)}/0x${t.mask.toString(16)}` : `-j CONNMARK --${t.op}-mark --nfmask 0xffffffff --ctmask 0xffffffff`];
    case 'CTZONE': return [`-j CT --zone ${t.zone}`];
    case 'TRACE': return ['-j TRACE'];
    case 'DSCP': return [`-j DSCP --set-dscp 0x${t.dscp.toString(16).padStart(2, '0')}`];
    case 'TCPOPTSTRIP': return ['-j TCPOPTSTRIP --strip-options 8'];
    case 'SNAT': return [`-j SNAT --to-source ${t.to}`];
    case 'MASQUERADE': return ['-j MASQUERADE'];
  }
}

function portText(r: PortRange): string {
  return r.lo === r.hi ? `${r.lo}` : `${r.lo}:${r.hi}`;
}

function flagList(flags: string[]): string {
  return flags.length === 0 ? 'NONE' : flags.join(',');
}

function markText(value: number, mask: number): string {
  return mask === 0xffffffff ? `0x${value.toString(16)}` : `0x${value.toString(16)}/0x${mask.toString(16)}`;
}

/** xtables_save_string: bare when [A-Za-z0-9_-]+, else double-quoted with \" \\ \' escaped. */
function quote(text: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(text)) return text;
  return `"${text.replace(/["\\']/g, (c) => `\\${c}`)}"`;
}
