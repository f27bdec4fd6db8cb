import { EGRESS_IFACE, FW_INTERFACES } from './lab-topology.ts';
import { inNetns, runCommand } from './run-command.ts';

export interface LabLink { fwIface: string; genIface: string; fwMac: string; genMac: string }

export interface Lab {
  /** Sender namespace: spoofs packets onto the veths. */
  gen: string;
  /** Firewall namespace: holds the ruleset under test and the target addresses. */
  fw: string;
  /** Sink namespace: the far end of the firewall's only route; it never answers or forwards. */
  sink: string;
  links: LabLink[];
  /** The firewall interface every reply leaves by (default route, ARP off). */
  egressIface: string;
}

/**
 * Builds gen ⇄ fw over one veth pair per firewall interface, plus fw ⇄ sink for replies.
 * fw never sends anything back to gen: its addresses are /32 (no connected subnets, see
 * lab-topology.ts), its only route is a default route out of `out0` with ARP off (no neighbour
 * resolution, hence no delayed self-addressed ICMP), and a zero-length pfifo on the gen-facing
 * veths drops anything that would still leave there. Replies (RST, ICMP errors from REJECT) go to
 * the sink, where a capture on `out0` sees them. (This kernel has no tc actions or classifiers, so
 * clsact+matchall is not available.)
 */
export async function createLab(tag: string): Promise<Lab> {
  const lab: Lab = { gen: `wbd${tag}g`, fw: `wbd${tag}f`, sink: `wbd${tag}s`, links: [], egressIface: EGRESS_IFACE };
  await runCommand(['ip', 'netns', 'add', lab.gen]);
  try {
    await runCommand(['ip', 'netns', 'add', lab.fw]);
    await runCommand(['ip', 'netns', 'add', lab.sink]);
    const sysctl = (ns: string, key: string, value: string): Promise<unknown> => runCommand(inNetns(ns, ['sysctl', '-q', '-w', `${key}=${value}`]));
    const fwSysctl = (key: string, value: string): Promise<unknown> => sysctl(lab.fw, key, value);
    // IPv6 would make gen and sink chatter (router solicitations, MLD, DAD) into the firewall's
    // counters; they only need raw frames, so their IPv6 stacks are switched off before any link exists.
    for (const ns of [lab.gen, lab.sink]) {
      await sysctl(ns, 'net.ipv6.conf.all.disable_ipv6', '1');
      await sysctl(ns, 'net.ipv6.conf.default.disable_ipv6', '1');
    }
    // The firewall keeps IPv6 but never starts neighbour discovery itself: no link-local address
    // (addr_gen_mode 1 = none), no DAD, no router solicitations; its addresses are added `nodad`.
    for (const [key, value] of [['addr_gen_mode', '1'], ['accept_dad', '0'], ['dad_transmits', '0'], ['router_solicitations', '0'], ['accept_ra', '0']] as const) {
      await fwSysctl(`net.ipv6.conf.default.${key}`, value);
      await fwSysctl(`net.ipv6.conf.all.${key}`, value);
    }
    // DNAT to another host must reach FORWARD (and leave by the default route to the sink).
    await fwSysctl('net.ipv4.ip_forward', '1');
    // The same for IPv6, set before any interface exists so each one starts out as a router's.
    await fwSysctl('net.ipv6.conf.default.forwarding', '1');
    await fwSysctl('net.ipv6.conf.all.forwarding', '1');
    await fwSysctl('net.ipv4.conf.all.rp_filter', '0');
    await fwSysctl('net.ipv4.conf.default.rp_filter', '0');
    for (const [index, iface] of FW_INTERFACES.entries()) {
      const genIface = `g${index}`;
      await runCommand(['ip', 'link', 'add', genIface, 'netns', lab.gen, 'type', 'veth', 'peer', 'name', iface.name, 'netns', lab.fw]);
      await fwSysctl(`net.ipv4.conf.${iface.name}.rp_filter`, '0');
      for (const addr of iface.addresses) await runCommand(['ip', '-n', lab.fw, 'addr', 'add', `${addr}/32`, 'dev', iface.name]);
      for (const addr of iface.addresses6) await runCommand(['ip', '-n', lab.fw, 'addr', 'add', `${addr}/128`, 'dev', iface.name, 'nodad']);
      await runCommand(['ip', '-n', lab.fw, 'link', 'set', iface.name, 'up']);
      await runCommand(['ip', '-n', lab.gen, 'link', 'set', genIface, 'up']);
      await runCommand(inNetns(lab.fw, ['tc', 'qdisc', 'replace', 'dev', iface.name, 'root', 'pfifo', 'limit', '0']));
      lab.links.push({ fwIface: iface.name, genIface, fwMac: await macOf(lab.fw, iface.name), genMac: await macOf(lab.gen, genIface) });
    }
    await runCommand(['ip', 'link', 'add', EGRESS_IFACE, 'netns', lab.fw, 'type', 'veth', 'peer', 'name', 's0', 'netns', lab.sink]);
    await runCommand(['ip', '-n', lab.fw, 'link', 'set', EGRESS_IFACE, 'arp', 'off', 'up']);
    await runCommand(['ip', '-n', lab.sink, 'link', 'set', 's0', 'up']);
    await runCommand(['ip', '-n', lab.fw, 'route', 'add', 'default', 'dev', EGRESS_IFACE]);
    // NOARP covers IPv6 too: no neighbour solicitation is ever sent for the reply path.
    await runCommand(['ip', '-n', lab.fw, '-6', 'route', 'add', 'default', 'dev', EGRESS_IFACE]);
    // REJECT's ICMP errors are rate limited per peer (1/s by default); probes reuse sources quickly.
    await fwSysctl('net.ipv4.icmp_ratelimit', '0');
    await fwSysctl('net.ipv6.icmp.ratelimit', '0');
    await runCommand(['ip', '-n', lab.fw, 'link', 'set', 'lo', 'up']);
    return lab;
  } catch (error) {
    await destroyLab(lab);
    throw error;
  }
}

export async function destroyLab(lab: Pick<Lab, 'gen' | 'fw' | 'sink'>): Promise<void> {
  // Deleting a namespace also deletes its veth ends and every table loaded inside it.
  for (const ns of [lab.fw, lab.gen, lab.sink]) await runCommand(['ip', 'netns', 'del', ns], { allowFail: true });
}

async function macOf(ns: string, iface: string): Promise<string> {
  const { stdout } = await runCommand(['ip', '-n', ns, '-j', 'link', 'show', iface]);
  const parsed = JSON.parse(stdout) as Array<{ address?: string }>;
  const mac = parsed[0]?.address;
  if (mac === undefined) throw new Error(`no MAC address for ${iface} in ${ns}`);
  return mac;
}
