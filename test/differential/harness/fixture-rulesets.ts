import { readFileSync } from 'node:fs';
import { fedoraRulesWithLateAccept } from '../../../src/lab/scenarios/seed-telnet.ts';
import type { Backend, RulesetPart } from './kernel-oracle.ts';
import type { ProbePacket } from './start-packet-sender.ts';
import type { CtState } from './ruleset-model.ts';

/** A real-world layout plus packets whose kernel answer we know and assert. */
export interface FixtureRuleset {
  name: string;
  backends: Backend[];
  text: string;
  probes: FixtureProbe[];
}

export interface FixtureProbe {
  packet: ProbePacket;
  state: CtState;
  expect: {
    verdict: 'accept' | 'drop' | 'reject';
    chain: string;
    /** iptables: rule position; nft: 1-based index of the rule in its chain (handles vary per load). */
    nth?: number;
    policy?: 'accept' | 'drop';
    rejectWith?: string;
  };
}

const CLIENT = '192.168.30.1';
const syn = (dport: number, extra: Partial<ProbePacket> = {}): ProbePacket => ({ proto: 'tcp', src: CLIENT, dst: '10.99.0.2', sport: 41000 + dport, dport, tcpFlags: ['SYN'], inIface: 'eth0', ...extra });

/** The seed incident: Fedora's default INPUT with `-A INPUT -p tcp --dport 23 -j ACCEPT` appended after the catch-all REJECT. */
export const SEED_RULESET: FixtureRuleset = {
  name: 'seed (Fedora default + appended telnet ACCEPT)',
  backends: ['iptables-legacy', 'iptables-nft'],
  text: fedoraRulesWithLateAccept,
  probes: [
    { packet: syn(23), state: 'NEW', expect: { verdict: 'reject', chain: 'INPUT', nth: 5, rejectWith: 'icmp-host-prohibited' } },
    { packet: syn(22), state: 'NEW', expect: { verdict: 'accept', chain: 'INPUT', nth: 4 } },
    { packet: syn(22, { tcpFlags: ['ACK'] }), state: 'NEW', expect: { verdict: 'accept', chain: 'INPUT', nth: 4 } },
    { packet: { proto: 'icmp', src: CLIENT, dst: '203.0.113.10', icmpType: 8, icmpCode: 0, inIface: 'ens5' }, state: 'NEW', expect: { verdict: 'accept', chain: 'INPUT', nth: 2 } },
    { packet: { proto: 'udp', src: CLIENT, dst: '10.99.0.2', sport: 5353, dport: 53, inIface: 'eth0' }, state: 'NEW', expect: { verdict: 'reject', chain: 'INPUT', nth: 5, rejectWith: 'icmp-host-prohibited' } },
  ],
};

/** ufw's chain layout (before.rules/after.rules, default deny incoming) with three user rules. */
export const UFW_RULESET: FixtureRuleset = {
  name: 'ufw layout',
  backends: ['iptables-legacy', 'iptables-nft'],
  text: `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:ufw-after-input - [0:0]
:ufw-after-logging-input - [0:0]
:ufw-before-input - [0:0]
:ufw-before-logging-input - [0:0]
:ufw-logging-deny - [0:0]
:ufw-not-local - [0:0]
:ufw-reject-input - [0:0]
:ufw-skip-to-policy-input - [0:0]
:ufw-track-input - [0:0]
:ufw-user-input - [0:0]
:ufw-user-limit - [0:0]
:ufw-user-limit-accept - [0:0]
-A INPUT -j ufw-before-logging-input
-A INPUT -j ufw-before-input
-A INPUT -j ufw-after-input
-A INPUT -j ufw-after-logging-input
-A INPUT -j ufw-reject-input
-A INPUT -j ufw-track-input
-A ufw-after-input -p udp -m udp --dport 137 -j ufw-skip-to-policy-input
-A ufw-after-input -p udp -m udp --dport 138 -j ufw-skip-to-policy-input
-A ufw-after-input -p tcp -m tcp --dport 139 -j ufw-skip-to-policy-input
-A ufw-after-input -p tcp -m tcp --dport 445 -j ufw-skip-to-policy-input
-A ufw-after-input -p udp -m udp --dport 67 -j ufw-skip-to-policy-input
-A ufw-after-input -p udp -m udp --dport 68 -j ufw-skip-to-policy-input
-A ufw-after-input -m addrtype --dst-type BROADCAST -j ufw-skip-to-policy-input
-A ufw-after-logging-input -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix "[UFW BLOCK] "
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw-before-input -m conntrack --ctstate INVALID -j ufw-logging-deny
-A ufw-before-input -m conntrack --ctstate INVALID -j DROP
-A ufw-before-input -p icmp -m icmp --icmp-type 3 -j ACCEPT
-A ufw-before-input -p icmp -m icmp --icmp-type 11 -j ACCEPT
-A ufw-before-input -p icmp -m icmp --icmp-type 12 -j ACCEPT
-A ufw-before-input -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A ufw-before-input -p udp -m udp --sport 67 --dport 68 -j ACCEPT
-A ufw-before-input -j ufw-not-local
-A ufw-before-input -d 224.0.0.251/32 -p udp -m udp --dport 5353 -j ACCEPT
-A ufw-before-input -d 239.255.255.250/32 -p udp -m udp --dport 1900 -j ACCEPT
-A ufw-before-input -j ufw-user-input
-A ufw-logging-deny -m conntrack --ctstate INVALID -m limit --limit 3/min --limit-burst 10 -j RETURN
-A ufw-logging-deny -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix "[UFW BLOCK] "
-A ufw-not-local -m addrtype --dst-type LOCAL -j RETURN
-A ufw-not-local -m addrtype --dst-type MULTICAST -j RETURN
-A ufw-not-local -m addrtype --dst-type BROADCAST -j RETURN
-A ufw-not-local -m limit --limit 3/min --limit-burst 10 -j ufw-logging-deny
-A ufw-not-local -j DROP
-A ufw-skip-to-policy-input -j DROP
-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT
-A ufw-user-input -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset
-A ufw-user-input -s 192.168.30.0/24 -p udp -m udp --dport 53 -j ACCEPT
-A ufw-user-limit -m limit --limit 3/min -j LOG --log-prefix "[UFW LIMIT BLOCK] "
-A ufw-user-limit -j REJECT --reject-with icmp-port-unreachable
-A ufw-user-limit-accept -j ACCEPT
COMMIT
`,
  probes: [
    { packet: syn(22), state: 'NEW', expect: { verdict: 'accept', chain: 'ufw-user-input', nth: 1 } },
    { packet: syn(23), state: 'NEW', expect: { verdict: 'reject', chain: 'ufw-user-input', nth: 2, rejectWith: 'tcp-reset' } },
    { packet: syn(80), state: 'NEW', expect: { verdict: 'drop', chain: 'INPUT', policy: 'drop' } },
    { packet: syn(445), state: 'NEW', expect: { verdict: 'drop', chain: 'ufw-skip-to-policy-input', nth: 1 } },
    { packet: syn(22, { tcpFlags: ['SYN', 'ACK'] }), state: 'INVALID', expect: { verdict: 'drop', chain: 'ufw-before-input', nth: 4 } },
    { packet: { proto: 'icmp', src: CLIENT, dst: '10.99.0.3', icmpType: 8, icmpCode: 0, inIface: 'eth0' }, state: 'NEW', expect: { verdict: 'accept', chain: 'ufw-before-input', nth: 8 } },
    { packet: { proto: 'udp', src: CLIENT, dst: '10.99.0.2', sport: 5300, dport: 53, inIface: 'eth0' }, state: 'NEW', expect: { verdict: 'accept', chain: 'ufw-user-input', nth: 3 } },
    { packet: { proto: 'udp', src: '198.51.100.9', dst: '10.99.0.2', sport: 5300, dport: 53, inIface: 'eth0' }, state: 'NEW', expect: { verdict: 'drop', chain: 'INPUT', policy: 'drop' } },
  ],
};

/**
 * firewalld's nftables layout (src/firewall/core/nftables.py, tests *.at): one inet table, hooks at
 * iptables priority + 10, dispatch by source then interface then default zone. Every rule has a
 * counter and every base chain is framed by the harness's entry/exit counters (render-nft.ts).
 */
export const FIREWALLD_RULESET: FixtureRuleset = {
  name: 'firewalld nft layout',
  backends: ['nft'],
  text: `table inet firewalld {
	chain mangle_PREROUTING {
		type filter hook prerouting priority mangle + 10; policy accept;
		counter comment "diff-entry"
		counter jump mangle_PREROUTING_POLICIES
		counter comment "diff-exit"
	}
	chain mangle_PREROUTING_POLICIES {
	}
	chain filter_INPUT {
		type filter hook input priority filter + 10; policy accept;
		counter comment "diff-entry"
		ct state { established, related } counter accept
		ct status dnat counter accept
		iifname "lo" counter accept
		ct state invalid counter drop
		counter jump filter_INPUT_dispatch
		counter reject with icmpx type admin-prohibited
		counter comment "diff-exit"
	}
	chain filter_INPUT_dispatch {
		ip saddr 192.168.30.0/24 counter jump filter_IN_trusted
		iifname "ens*" counter jump filter_IN_internal
		counter jump filter_IN_public
	}
	chain filter_IN_public {
		counter jump filter_IN_public_pre
		counter jump filter_IN_public_log
		counter jump filter_IN_public_deny
		counter jump filter_IN_public_allow
		counter jump filter_IN_public_post
		meta l4proto { icmp, ipv6-icmp } counter accept
	}
	chain filter_IN_public_pre {
	}
	chain filter_IN_public_log {
	}
	chain filter_IN_public_deny {
		ip saddr 198.51.100.66 counter drop
	}
	chain filter_IN_public_allow {
		tcp dport 22 ct state { new, untracked } counter accept
		udp dport 53 ct state { new, untracked } counter accept
	}
	chain filter_IN_public_post {
	}
	chain filter_IN_internal {
		tcp dport { 22, 80, 443, 8000-8100 } ct state { new, untracked } counter accept
		meta l4proto { icmp, ipv6-icmp } counter accept
		counter reject with icmpx type admin-prohibited
	}
	chain filter_IN_trusted {
		counter accept
	}
}
`,
  probes: [
    { packet: syn(23, { src: '198.51.100.7' }), state: 'NEW', expect: { verdict: 'reject', chain: 'filter_INPUT', nth: 7 } },
    { packet: syn(22, { src: '198.51.100.7' }), state: 'NEW', expect: { verdict: 'accept', chain: 'filter_IN_public_allow', nth: 1 } },
    { packet: syn(22, { src: '198.51.100.66' }), state: 'NEW', expect: { verdict: 'drop', chain: 'filter_IN_public_deny', nth: 1 } },
    { packet: syn(23), state: 'NEW', expect: { verdict: 'accept', chain: 'filter_IN_trusted', nth: 1 } },
    { packet: syn(8050, { src: '198.51.100.7', inIface: 'ens5' }), state: 'NEW', expect: { verdict: 'accept', chain: 'filter_IN_internal', nth: 1 } },
    { packet: syn(23, { src: '198.51.100.7', inIface: 'ens5' }), state: 'NEW', expect: { verdict: 'reject', chain: 'filter_IN_internal', nth: 3 } },
    { packet: syn(22, { src: '198.51.100.7', tcpFlags: ['FIN'] }), state: 'INVALID', expect: { verdict: 'drop', chain: 'filter_INPUT', nth: 5 } },
    { packet: { proto: 'icmp', src: '198.51.100.7', dst: '10.99.0.2', icmpType: 8, icmpCode: 0, inIface: 'eth0' }, state: 'NEW', expect: { verdict: 'accept', chain: 'filter_IN_public', nth: 6 } },
  ],
};

/**
 * Docker's chains (one published port, 8080 → 172.17.0.2:80). The classic surprise: the INPUT DROP
 * for 8080 never sees the published port, because DNAT sends it to FORWARD, where (no docker0 here)
 * the policy drops it; other traffic is local and passes INPUT's policy.
 */
export const DOCKER_RULESET: FixtureRuleset = {
  name: 'Docker layout',
  backends: ['iptables-legacy', 'iptables-nft'],
  text: readFileSync(new URL('../../fixtures/rulesets/docker.rules', import.meta.url), 'utf8'),
  probes: [
    { packet: syn(8080), state: 'NEW', expect: { verdict: 'drop', chain: 'FORWARD', policy: 'drop' } },
    { packet: syn(22), state: 'NEW', expect: { verdict: 'accept', chain: 'INPUT', policy: 'accept' } },
    { packet: { proto: 'udp', src: CLIENT, dst: '203.0.113.10', sport: 5353, dport: 8080, inIface: 'ens5' }, state: 'NEW', expect: { verdict: 'accept', chain: 'INPUT', policy: 'accept' } },
  ],
};

export const FIXTURE_RULESETS: readonly FixtureRuleset[] = [SEED_RULESET, UFW_RULESET, FIREWALLD_RULESET, DOCKER_RULESET];

/** Several backends active at once: every packet must pass both, in priority order. */
export interface MixedFixture {
  name: string;
  parts: RulesetPart[];
  probes: Array<{ packet: ProbePacket; state: CtState; expect: { verdict: 'accept' | 'drop' | 'reject'; source: string; chain: string } }>;
}

/** A host where someone left the Fedora iptables rules (legacy, priority 0) under firewalld (nft, priority 10). */
export const LEGACY_UNDER_FIREWALLD: MixedFixture = {
  name: 'seed ruleset in iptables-legacy + firewalld in nft',
  parts: [{ backend: 'iptables-legacy', text: SEED_RULESET.text }, { backend: 'nft', text: FIREWALLD_RULESET.text }],
  probes: [
    { packet: syn(22, { src: '198.51.100.7' }), state: 'NEW', expect: { verdict: 'accept', source: 'nft', chain: 'filter_IN_public_allow' } },
    { packet: syn(23, { src: '198.51.100.7' }), state: 'NEW', expect: { verdict: 'reject', source: 'iptables-legacy', chain: 'INPUT' } },
    { packet: syn(23), state: 'NEW', expect: { verdict: 'reject', source: 'iptables-legacy', chain: 'INPUT' } },
    { packet: syn(22, { src: '198.51.100.66' }), state: 'NEW', expect: { verdict: 'drop', source: 'nft', chain: 'filter_IN_public_deny' } },
    { packet: { proto: 'icmp', src: '198.51.100.66', dst: '10.99.0.2', icmpType: 8, icmpCode: 0, inIface: 'eth0' }, state: 'NEW', expect: { verdict: 'drop', source: 'nft', chain: 'filter_IN_public_deny' } },
    { packet: syn(8050, { src: '198.51.100.7', inIface: 'ens5' }), state: 'NEW', expect: { verdict: 'reject', source: 'iptables-legacy', chain: 'INPUT' } },
  ],
};
