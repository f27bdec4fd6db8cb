import type { LabScenario } from '../lab-scenario.ts';

/**
 * Fedora's default ruleset, with the telnet ACCEPT appended after the catch-all REJECT: the rule
 * exists but never matches, and clients get "No route to host" instead of a refusal.
 */
export const fedoraRulesWithLateAccept = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p icmp -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -j REJECT --reject-with icmp-host-prohibited
-A INPUT -p tcp --dport 23 -j ACCEPT
COMMIT
`;

export const seedTelnet: LabScenario = {
  name: 'seed-telnet',
  summary: 'telnet (23) to the server fails with "No route to host": its ACCEPT sits after the REJECT',
  segments: [{ name: 'lan' }],
  hosts: {
    server: {
      interfaces: [{ segment: 'lan', hostId: 2 }],
      aliases: ['server.lab'],
      listeners: [{ kind: 'tcp', address: '0.0.0.0', port: 23, banner: 'lab telnet\r\n' }],
      firewall: { backend: 'iptables-legacy', rules: fedoraRulesWithLateAccept },
      etcFiles: {
        'sysconfig/iptables': fedoraRulesWithLateAccept,
        'hosts.allow': '# the operator already allowed the client here\nALL: {{client}}\n',
        'hosts.deny': '',
      },
    },
    client: {
      interfaces: [{ segment: 'lan', hostId: 1 }],
      aliases: ['client.lab'],
    },
  },
};
