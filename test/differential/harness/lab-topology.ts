/**
 * Fixed addressing inside the lab namespaces. Interface names live inside our own firewall
 * namespace, so they can look like a real host's (eth0, ens5) without touching the machine's.
 */
export interface FwInterface { name: string; addresses: string[]; addresses6: string[] }

/**
 * Every firewall address is a /32, so the firewall has no route to any (spoofed) source. Its
 * answers (RST, ICMP errors, REJECT replies) then fail at route lookup instead of waiting on ARP:
 * with a connected subnet, an unanswered ARP makes the kernel send ICMP host-unreachable to its
 * *own* address ~3 s later, which crosses INPUT with a local source and pollutes a later probe.
 */
export const FW_INTERFACES: readonly FwInterface[] = [
  { name: 'eth0', addresses: ['10.99.0.2', '10.99.0.3'], addresses6: ['2001:db8:99::2', '2001:db8:99::3'] },
  { name: 'ens5', addresses: ['10.98.0.2', '203.0.113.10'], addresses6: ['2001:db8:98::2', 'fd00:113::10'] },
];

export const LOCAL_ADDRESSES: readonly string[] = FW_INTERFACES.flatMap((i) => i.addresses);
/** IPv6 addresses are /128 for the same reason, and added without DAD (see create-lab.ts). */
export const LOCAL_ADDRESSES6: readonly string[] = FW_INTERFACES.flatMap((i) => i.addresses6);
export const FW_INTERFACE_NAMES: readonly string[] = FW_INTERFACES.map((i) => i.name);

/**
 * Spoofed sources: never a firewall address, loopback, zero-net or broadcast, because the kernel
 * drops those as martians at routing time, before INPUT, which no ruleset analyzer models.
 */
export const SOURCE_NETWORKS: readonly string[] = ['198.51.100.0/24', '192.168.30.0/24', '172.16.5.0/24', '10.99.0.0/24', '100.64.1.0/24'];

/** IPv6 spoofed sources: global or ULA unicast only (multicast, ::1, ::/128 and link-local are dropped or special). */
export const SOURCE_NETWORKS6: readonly string[] = ['2001:db8:5::/64', '2001:db8:99::/64', 'fd00:30::/120', '2001:db8:100::/112'];

/** Ports a TCP listener holds open in the firewall namespace, so an accepted SYN gets a SYN-ACK to filter. */
export const LISTEN_PORTS: readonly number[] = [80, 443];

/** Names offered to `-i`: real ones, prefixes, near misses and absent ones. */
export const IFACE_PATTERNS: readonly string[] = ['eth0', 'ens5', 'eth+', 'ens+', 'e+', 'eth', 'wlan0', 'lo'];

/** The firewall's only route (IPv4 and IPv6 default): every answer and every forwarded packet leaves here. */
export const EGRESS_IFACE = 'out0';

/** The firewall's routing table beyond its /32 and /128 addresses, as `ip route` lists it (create-lab.ts). */
export const FW_ROUTES: ReadonlyArray<{ dst: string; iface: string }> = [
  { dst: '0.0.0.0/0', iface: EGRESS_IFACE },
  { dst: '::/0', iface: EGRESS_IFACE },
];

/** Names offered to `-o`: the lab's real egress, prefixes of it, the probe interfaces (never the way out) and absent ones. */
export const OUT_IFACE_PATTERNS: readonly string[] = ['out0', 'out0', 'out+', 'o+', 'eth0', 'ens5', 'eth+', 'lo', 'out'];
