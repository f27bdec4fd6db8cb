import type { Family, RejectWith } from './model.ts';

/** /etc/protocols names iptables and nft print, plus the aliases people type. */
/** /etc/protocols (Debian netbase), which iptables-save uses to print `-p` (e.g. `-p gre`). */
const protoByName: Record<string, number> = {
  all: 0, icmpv6: 58, icmp6: 58, mh: 135, comp: 108,
  'ip': 0, 'hopopt': 0, 'icmp': 1, 'igmp': 2, 'ggp': 3, 'ipencap': 4, 'ip-encap': 4, 'st': 5, 'tcp': 6, 'egp': 8, 'igp': 9, 'pup': 12, 'udp': 17, 'hmp': 20, 'xns-idp': 22, 'rdp': 27, 'iso-tp4': 29, 'dccp': 33, 'xtp': 36, 'ddp': 37, 'idpr-cmtp': 38, 'ipv6': 41, 'ipv6-route': 43, 'ipv6-frag': 44, 'idrp': 45, 'rsvp': 46, 'gre': 47, 'esp': 50, 'ipsec-esp': 50, 'ah': 51, 'ipsec-ah': 51, 'skip': 57, 'ipv6-icmp': 58, 'ipv6-nonxt': 59, 'ipv6-opts': 60, 'rspf': 73, 'cphb': 73, 'vmtp': 81, 'eigrp': 88, 'ospf': 89, 'ospfigp': 89, 'ax.25': 93, 'ipip': 94, 'etherip': 97, 'encap': 98, 'pim': 103, 'ipcomp': 108, 'vrrp': 112, 'l2tp': 115, 'isis': 124, 'sctp': 132, 'fc': 133, 'mobility-header': 135, 'udplite': 136, 'mpls-in-ip': 137, 'manet': 138, 'hip': 139, 'shim6': 140, 'wesp': 141, 'rohc': 142, 'ethernet': 143,
};

const nameByProto: Record<number, string> = {
  0: 'ip', 1: 'icmp', 2: 'igmp', 3: 'ggp', 4: 'ipencap', 5: 'st', 6: 'tcp', 8: 'egp', 9: 'igp', 12: 'pup', 17: 'udp', 20: 'hmp', 22: 'xns-idp', 27: 'rdp', 29: 'iso-tp4', 33: 'dccp', 36: 'xtp', 37: 'ddp', 38: 'idpr-cmtp', 41: 'ipv6', 43: 'ipv6-route', 44: 'ipv6-frag', 45: 'idrp', 46: 'rsvp', 47: 'gre', 50: 'esp', 51: 'ah', 57: 'skip', 58: 'ipv6-icmp', 59: 'ipv6-nonxt', 60: 'ipv6-opts', 73: 'rspf', 81: 'vmtp', 88: 'eigrp', 89: 'ospf', 93: 'ax.25', 94: 'ipip', 97: 'etherip', 98: 'encap', 103: 'pim', 108: 'ipcomp', 112: 'vrrp', 115: 'l2tp', 124: 'isis', 132: 'sctp', 133: 'fc', 135: 'mobility-header', 136: 'udplite', 137: 'mpls-in-ip', 138: 'manet', 139: 'hip', 140: 'shim6', 141: 'wesp', 142: 'rohc', 143: 'ethernet',
};

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

export function protoNumber(text: string): number | undefined {
  const lower = text.toLowerCase();
  if (/^\d+$/.test(lower)) {
    const n = Number(lower);
    return n <= 255 ? n : undefined;
  }
  return protoByName[lower];
}

export function protoName(n: number): string {
  return nameByProto[n] ?? String(n);
}

/** Service names as iptables-save and ipset save may print them (/etc/services), for the common ports. */
const services: Record<string, number> = {
  ftp: 21, ssh: 22, telnet: 23, smtp: 25, domain: 53, http: 80, www: 80, pop3: 110, ntp: 123, imap: 143, snmp: 161,
  https: 443, imaps: 993, pop3s: 995, mysql: 3306, postgresql: 5432, 'http-alt': 8080,
};

/** A port given as a number or a service name; undefined when it is neither or above 65535. */
export function portNumber(text: string): number | undefined {
  const n = /^\d+$/.test(text) ? Number(text) : services[text];
  return n === undefined || n > 65535 ? undefined : n;
}

export function hasPorts(proto: number): boolean {
  return proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === 132 || proto === 33 || proto === 136;
}

/** [type, codeMin, codeMax] for the names `iptables -p icmp --help` lists. */
const icmpV4Names: Record<string, [number, number, number]> = {
  'echo-reply': [0, 0, 0], pong: [0, 0, 0],
  'destination-unreachable': [3, 0, 255], 'network-unreachable': [3, 0, 0], 'host-unreachable': [3, 1, 1],
  'protocol-unreachable': [3, 2, 2], 'port-unreachable': [3, 3, 3], 'fragmentation-needed': [3, 4, 4],
  'source-route-failed': [3, 5, 5], 'network-unknown': [3, 6, 6], 'host-unknown': [3, 7, 7],
  'network-prohibited': [3, 9, 9], 'host-prohibited': [3, 10, 10], 'TOS-network-unreachable': [3, 11, 11],
  'TOS-host-unreachable': [3, 12, 12], 'communication-prohibited': [3, 13, 13], 'host-precedence-violation': [3, 14, 14],
  'precedence-cutoff': [3, 15, 15], 'source-quench': [4, 0, 255], redirect: [5, 0, 255], 'network-redirect': [5, 0, 0],
  'host-redirect': [5, 1, 1], 'TOS-network-redirect': [5, 2, 2], 'TOS-host-redirect': [5, 3, 3],
  'echo-request': [8, 0, 0], ping: [8, 0, 0], 'router-advertisement': [9, 0, 255], 'router-solicitation': [10, 0, 255],
  'time-exceeded': [11, 0, 255], 'ttl-exceeded': [11, 0, 255], 'ttl-zero-during-transit': [11, 0, 0],
  'ttl-zero-during-reassembly': [11, 1, 1], 'parameter-problem': [12, 0, 255], 'ip-header-bad': [12, 0, 0],
  'required-option-missing': [12, 1, 1], 'timestamp-request': [13, 0, 255], 'timestamp-reply': [14, 0, 255],
  'address-mask-request': [17, 0, 255], 'address-mask-reply': [18, 0, 255],
};

const icmpV6Names: Record<string, [number, number, number]> = {
  'destination-unreachable': [1, 0, 255], 'no-route': [1, 0, 0], 'communication-prohibited': [1, 1, 1],
  'beyond-scope': [1, 2, 2], 'address-unreachable': [1, 3, 3], 'port-unreachable': [1, 4, 4],
  'failed-policy': [1, 5, 5], 'reject-route': [1, 6, 6], 'packet-too-big': [2, 0, 255], 'time-exceeded': [3, 0, 255],
  'ttl-exceeded': [3, 0, 255], 'ttl-zero-during-transit': [3, 0, 0], 'ttl-zero-during-reassembly': [3, 1, 1],
  'parameter-problem': [4, 0, 255], 'bad-header': [4, 0, 0], 'unknown-header-type': [4, 1, 1], 'unknown-option': [4, 2, 2],
  'echo-request': [128, 0, 0], ping: [128, 0, 0], 'echo-reply': [129, 0, 0], pong: [129, 0, 0],
  'mld-listener-query': [130, 0, 255], 'mld-listener-report': [131, 0, 255], 'mld-listener-done': [132, 0, 255],
  'mld-listener-reduction': [132, 0, 255],
  'router-solicitation': [133, 0, 255], 'router-advertisement': [134, 0, 255], 'neighbour-solicitation': [135, 0, 255],
  'neighbor-solicitation': [135, 0, 255], 'neighbour-advertisement': [136, 0, 255], 'neighbor-advertisement': [136, 0, 255],
  'redirect': [137, 0, 255], 'nd-router-solicit': [133, 0, 255], 'nd-router-advert': [134, 0, 255],
  'nd-neighbor-solicit': [135, 0, 255], 'nd-neighbor-advert': [136, 0, 255], 'nd-redirect': [137, 0, 255],
  'mld2-listener-report': [143, 0, 255],
};

/** nft names for `icmp type` / `icmpv6 type` (code-less). */
const nftIcmpTypes: Record<string, number> = {
  'echo-reply': 0, 'destination-unreachable': 3, 'source-quench': 4, redirect: 5, 'echo-request': 8,
  'router-advertisement': 9, 'router-solicitation': 10, 'time-exceeded': 11, 'parameter-problem': 12,
  'timestamp-request': 13, 'timestamp-reply': 14, 'info-request': 15, 'info-reply': 16,
  'address-mask-request': 17, 'address-mask-reply': 18,
};
const nftIcmpv6Types: Record<string, number> = {
  'destination-unreachable': 1, 'packet-too-big': 2, 'time-exceeded': 3, 'parameter-problem': 4,
  'echo-request': 128, 'echo-reply': 129, 'mld-listener-query': 130, 'mld-listener-report': 131,
  'mld-listener-done': 132, 'mld-listener-reduction': 132, 'nd-router-solicit': 133, 'nd-router-advert': 134,
  'nd-neighbor-solicit': 135, 'nd-neighbor-advert': 136, 'nd-redirect': 137, 'router-renumbering': 138,
  'ind-neighbor-solicit': 141, 'ind-neighbor-advert': 142, 'mld2-listener-report': 143,
};

export function nftIcmpType(family: Family, name: string): number | undefined {
  return family === 'ipv4' ? nftIcmpTypes[name] : nftIcmpv6Types[name];
}

/** `--icmp-type` value: `any`, a name, `N` or `N/C`. */
export function parseIcmpTypeSpec(family: Family, text: string): { type: number | 'any'; codeMin: number; codeMax: number } | undefined {
  if (text === 'any') return { type: 'any', codeMin: 0, codeMax: 255 };
  const named = (family === 'ipv4' ? icmpV4Names : icmpV6Names)[text];
  if (named) return { type: named[0], codeMin: named[1], codeMax: named[2] };
  const m = /^(\d{1,3})(?:\/(\d{1,3}))?$/.exec(text);
  if (!m) return undefined;
  const type = Number(m[1]);
  if (type > 255) return undefined;
  if (m[2] === undefined) return { type, codeMin: 0, codeMax: 255 };
  const code = Number(m[2]);
  if (code > 255) return undefined;
  return { type, codeMin: code, codeMax: code };
}

const rejectAliasesV4: Record<string, RejectWith> = {
  'icmp-net-unreachable': 'icmp-net-unreachable', 'net-unreach': 'icmp-net-unreachable',
  'icmp-host-unreachable': 'icmp-host-unreachable', 'host-unreach': 'icmp-host-unreachable',
  'icmp-proto-unreachable': 'icmp-proto-unreachable', 'proto-unreach': 'icmp-proto-unreachable',
  'icmp-port-unreachable': 'icmp-port-unreachable', 'port-unreach': 'icmp-port-unreachable',
  'icmp-net-prohibited': 'icmp-net-prohibited', 'net-prohib': 'icmp-net-prohibited',
  'icmp-host-prohibited': 'icmp-host-prohibited', 'host-prohib': 'icmp-host-prohibited',
  'icmp-admin-prohibited': 'icmp-admin-prohibited', 'admin-prohib': 'icmp-admin-prohibited',
  'tcp-reset': 'tcp-reset', 'tcp-rst': 'tcp-reset',
};
const rejectAliasesV6: Record<string, RejectWith> = {
  'icmp6-no-route': 'icmp6-no-route', 'no-route': 'icmp6-no-route',
  'icmp6-adm-prohibited': 'icmp6-adm-prohibited', 'adm-prohibited': 'icmp6-adm-prohibited',
  'icmp6-addr-unreachable': 'icmp6-addr-unreachable', 'addr-unreach': 'icmp6-addr-unreachable',
  'icmp6-port-unreachable': 'icmp6-port-unreachable', 'port-unreach': 'icmp6-port-unreachable',
  'icmp6-policy-fail': 'icmp6-policy-fail', 'policy-fail': 'icmp6-policy-fail',
  'icmp6-reject-route': 'icmp6-reject-route', 'reject-route': 'icmp6-reject-route',
  'tcp-reset': 'tcp-reset', 'tcp-rst': 'tcp-reset',
};

export function parseRejectWith(family: Family, text: string): RejectWith | undefined {
  return (family === 'ipv4' ? rejectAliasesV4 : rejectAliasesV6)[text];
}

export function defaultRejectWith(family: Family): RejectWith {
  return family === 'ipv4' ? 'icmp-port-unreachable' : 'icmp6-port-unreachable';
}

/** nft `reject with icmp type X` / `icmpv6 type X` code names to the iptables spelling. */
const nftRejectV4: Record<string, RejectWith> = {
  'net-unreachable': 'icmp-net-unreachable', 'host-unreachable': 'icmp-host-unreachable',
  'prot-unreachable': 'icmp-proto-unreachable', 'port-unreachable': 'icmp-port-unreachable',
  'net-prohibited': 'icmp-net-prohibited', 'host-prohibited': 'icmp-host-prohibited',
  'admin-prohibited': 'icmp-admin-prohibited',
};
const nftRejectV6: Record<string, RejectWith> = {
  'no-route': 'icmp6-no-route', 'admin-prohibited': 'icmp6-adm-prohibited', 'addr-unreachable': 'icmp6-addr-unreachable',
  'port-unreachable': 'icmp6-port-unreachable', 'policy-fail': 'icmp6-policy-fail', 'reject-route': 'icmp6-reject-route',
};

export function nftRejectCode(family: Family, code: string): RejectWith | undefined {
  return (family === 'ipv4' ? nftRejectV4 : nftRejectV6)[code];
}

export function icmpxReject(family: Family, code: 'port-unreachable' | 'admin-prohibited' | 'no-route' | 'host-unreachable'): RejectWith {
  if (family === 'ipv4') {
    return ({ 'port-unreachable': 'icmp-port-unreachable', 'admin-prohibited': 'icmp-admin-prohibited',
      'no-route': 'icmp-net-unreachable', 'host-unreachable': 'icmp-host-unreachable' } as const)[code];
  }
  return ({ 'port-unreachable': 'icmp6-port-unreachable', 'admin-prohibited': 'icmp6-adm-prohibited',
    'no-route': 'icmp6-no-route', 'host-unreachable': 'icmp6-addr-unreachable' } as const)[code];
}
