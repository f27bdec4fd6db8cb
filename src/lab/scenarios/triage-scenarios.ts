import type { LabHostSpec, LabScenario } from '../lab-scenario.ts';

/**
 * One scenario per triage cause. Each is the smallest two-host network that shows the cause,
 * so a failing triage test points at one mechanism, not at the lab.
 */

const filter = (inputPolicy: 'ACCEPT' | 'DROP', input: string[], output: string[] = []): string => [
  '*filter',
  `:INPUT ${inputPolicy} [0:0]`,
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ...input.map((r) => `-A INPUT ${r}`),
  ...output.map((r) => `-A OUTPUT ${r}`),
  'COMMIT',
  '',
].join('\n');

const telnet = { kind: 'tcp' as const, address: '0.0.0.0', port: 23, banner: 'lab telnet\r\n' };
const client: LabHostSpec = { interfaces: [{ segment: 'lan', hostId: 1 }], aliases: ['client.lab'] };

function twoHosts(name: string, summary: string, server: Omit<LabHostSpec, 'interfaces'>): LabScenario {
  return {
    name,
    summary,
    segments: [{ name: 'lan' }],
    hosts: { server: { interfaces: [{ segment: 'lan', hostId: 2 }], aliases: ['server.lab'], ...server }, client },
  };
}

export const rejectTcpReset = twoHosts('reject-tcp-reset', 'a REJECT --reject-with tcp-reset answers SYNs to 23 although telnet listens', {
  listeners: [telnet],
  firewall: { backend: 'iptables-nft', rules: filter('ACCEPT', ['-p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset']) },
});

export const dropRule = twoHosts('drop-rule', 'a DROP rule silently discards SYNs to 23', {
  listeners: [telnet],
  firewall: { backend: 'iptables-nft', rules: filter('ACCEPT', ['-p tcp -m tcp --dport 23 -j DROP']) },
});

export const dropPolicy = twoHosts('drop-policy', 'INPUT policy DROP with no ACCEPT for 23', {
  listeners: [telnet],
  firewall: {
    backend: 'iptables-legacy',
    rules: filter('DROP', [
      '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-i lo -j ACCEPT',
      '-p icmp -j ACCEPT',
      '-p tcp -m tcp --dport 22 -j ACCEPT',
    ]),
  },
});

export const notListening = twoHosts('not-listening', 'the firewall allows 23 but nothing listens there', {
  firewall: { backend: 'iptables-nft', rules: filter('ACCEPT', []) },
});

export const boundLoopback = twoHosts('bound-loopback', 'telnet listens on 127.0.0.1 only', {
  listeners: [{ ...telnet, address: '127.0.0.1' }],
  firewall: { backend: 'iptables-nft', rules: filter('ACCEPT', []) },
});

export const replyBlocked = twoHosts('reply-blocked', 'INPUT accepts 23 but OUTPUT drops the SYN-ACK', {
  listeners: [telnet],
  firewall: { backend: 'iptables-legacy', rules: filter('ACCEPT', [], ['-p tcp -m tcp --sport 23 -j DROP']) },
});

export const reachable = twoHosts('reachable', 'telnet works: the control case', {
  listeners: [telnet],
  firewall: { backend: 'iptables-legacy', rules: filter('ACCEPT', ['-p tcp -m tcp --dport 23 -j ACCEPT']) },
});

const seedOrder = [
  '-m state --state RELATED,ESTABLISHED -j ACCEPT',
  '-p icmp -j ACCEPT',
  '-i lo -j ACCEPT',
  '-p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT',
  '-j REJECT --reject-with icmp-host-prohibited',
  '-p tcp -m tcp --dport 23 -j ACCEPT',
];
const fixedOrder = [seedOrder[0]!, seedOrder[1]!, seedOrder[2]!, seedOrder[3]!, seedOrder[5]!, seedOrder[4]!];

export const persistenceDrift = twoHosts('persistence-drift', 'runtime rules were fixed by hand; /etc/sysconfig/iptables still has the bad order', {
  listeners: [telnet],
  firewall: { backend: 'iptables-legacy', rules: filter('ACCEPT', fixedOrder) },
  etcFiles: { 'sysconfig/iptables': filter('ACCEPT', seedOrder) },
});

export const nftNative = twoHosts('nft-native', 'a native nftables table rejects 23 before its ACCEPT', {
  listeners: [telnet],
  firewall: {
    backend: 'nft',
    rules: [
      'table inet filter {',
      '  chain input {',
      '    type filter hook input priority filter; policy accept;',
      '    ct state established,related accept',
      '    iifname "lo" accept',
      '    tcp dport 22 accept',
      '    reject with icmpx admin-prohibited',
      '    tcp dport 23 accept',
      '  }',
      '}',
      '',
    ].join('\n'),
  },
});

const seed6 = [
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  '-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT',
  '-A INPUT -p ipv6-icmp -j ACCEPT',
  '-A INPUT -i lo -j ACCEPT',
  '-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT',
  '-A INPUT -j REJECT --reject-with icmp6-adm-prohibited',
  '-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT',
  'COMMIT',
  '',
].join('\n');

export const seedIpv6: LabScenario = {
  ...twoHosts('seed-ipv6', 'the seed over IPv6: ip6tables REJECT icmp6-adm-prohibited above the ACCEPT for 23', {
    listeners: [{ ...telnet, address: '::' }],
    firewall: { backend: 'iptables-legacy', rules: filter('ACCEPT', []), rules6: seed6 },
    etcFiles: { 'sysconfig/ip6tables': seed6 },
  }),
  ipv6: true,
};

export const tcpWrappers = twoHosts('tcp-wrappers', 'telnet runs under tcpd from inetd, and hosts.deny lists the client', {
  listeners: [{ kind: 'inetd', address: '0.0.0.0', port: 23, program: '/usr/sbin/tcpd', argv: ['/bin/cat'] }],
  firewall: { backend: 'iptables-nft', rules: filter('ACCEPT', []) },
  etcFiles: {
    'inetd.conf': 'telnet stream tcp nowait root /usr/sbin/tcpd /bin/cat\n',
    'hosts.allow': '',
    'hosts.deny': 'cat: {{client}}\n',
  },
});

/** The SYN never reaches the server: the router between the segments drops it in FORWARD. */
export const blockedUpstream: LabScenario = {
  name: 'blocked-upstream',
  summary: 'a router between client and server drops 23/tcp in FORWARD',
  segments: [{ name: 'office' }, { name: 'dmz', reachVia: 'router' }],
  hosts: {
    router: {
      interfaces: [{ segment: 'office', hostId: 1 }, { segment: 'dmz', hostId: 1 }],
      sysctls: { 'net.ipv4.ip_forward': '1' },
      firewall: { backend: 'iptables-nft', rules: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -p tcp -m tcp --dport 23 -j DROP\nCOMMIT\n' },
      sshd: false,
    },
    server: {
      interfaces: [{ segment: 'dmz', hostId: 2 }],
      aliases: ['server.lab'],
      routes: [{ to: 'office', via: 'router' }],
      listeners: [telnet],
      firewall: { backend: 'iptables-nft', rules: filter('ACCEPT', []) },
    },
    client: { interfaces: [{ segment: 'office', hostId: 20 }], aliases: ['client.lab'], routes: [{ to: 'dmz', via: 'router' }] },
  },
};

/**
 * A blocklist kept in an ipset rejects the client before the ACCEPT for 23: only `ipset save` says
 * the client is in it, so without the set's contents the REJECT would be "unknown".
 */
export const ipsetBlocklist = twoHosts('ipset-blocklist', 'an ipset blocklist that holds the client rejects it above the ACCEPT for 23', {
  listeners: [telnet],
  firewall: {
    backend: 'iptables-nft',
    ipsets: ['create blocklist hash:net family inet hashsize 1024 maxelem 65536', 'add blocklist 192.0.2.0/24', 'add blocklist {{client}}', ''].join('\n'),
    rules: filter('ACCEPT', [
      '-m set --match-set blocklist src -j REJECT --reject-with icmp-admin-prohibited',
      '-p tcp -m tcp --dport 23 -j ACCEPT',
    ]),
  },
});

export const triageScenarios: LabScenario[] = [
  rejectTcpReset, dropRule, dropPolicy, notListening, boundLoopback, tcpWrappers, blockedUpstream, replyBlocked,
  reachable, persistenceDrift, nftNative, seedIpv6, ipsetBlocklist,
];
