import { ErrorCode, WhyBlockedError } from '../errors.ts';
import {
  formatCidr, hostIpv4, hostIpv6, maxHostId, maxSegments, rootHostId, segmentIpv6Prefix, segmentSubnet,
  type Ipv4Cidr,
} from './lab-addressing.ts';
import type { LabFirewallSpec, LabListenerSpec, LabLoginSpec, LabScenario } from './lab-scenario.ts';

/** Everything `startLab` will create, computed up front (pure) so a bad scenario fails before any I/O. */
export interface PlannedInterface {
  /** Name inside the host namespace. */
  ifname: string;
  /** Peer name inside the switch namespace. */
  peer: string;
  segment: string;
  bridge: string;
  ipv4: string;
  ipv6?: string;
}

export interface PlannedHost {
  name: string;
  ns: string;
  interfaces: PlannedInterface[];
  /** Primary first. */
  addresses: string[];
  aliases: string[];
  routes: { to: string; via: string; ipv6: boolean }[];
  listeners: LabListenerSpec[];
  firewall?: LabFirewallSpec;
  etcFiles: Record<string, string>;
  sysctls: Record<string, string>;
  sshd: boolean;
  login?: LabLoginSpec;
}

export interface LabPlan {
  name: string;
  scenario: string;
  subnet: string;
  switchNs: string;
  bridges: { segment: string; bridge: string; subnet: string; ipv6Prefix?: string }[];
  rootVeth: string;
  rootPeer: string;
  rootAddress: string;
  rootAddress6?: string;
  /** Routes the root namespace needs for segments behind routers (all on rootVeth). */
  rootRoutes: { to: string; via: string; ipv6: boolean }[];
  hosts: PlannedHost[];
}

const hostNamePattern = /^[a-z][a-z0-9-]{0,19}$/;
const reservedHostNames = new Set(['sw']);

/**
 * ICMP errors are rate limited per peer (a burst of about 6, then one per second). Lab checks fire
 * connects back to back, so the lab turns the limit off unless a scenario says otherwise.
 */
const defaultSysctls: Record<string, string> = {
  'net.ipv4.icmp_ratelimit': '0',
  'net.ipv6.icmp.ratelimit': '0',
};

function invalid(scenario: string, why: string): WhyBlockedError {
  return new WhyBlockedError(ErrorCode.LabFailed, `lab scenario "${scenario}" is invalid: ${why}`, { details: { scenario } });
}

export function planLab(scenario: LabScenario, name: string, subnet: Ipv4Cidr): LabPlan {
  const s = scenario.name;
  if (scenario.segments.length === 0 || scenario.segments.length > maxSegments) throw invalid(s, `it needs 1 to ${maxSegments} segments`);
  const segIndex = new Map(scenario.segments.map((seg, i) => [seg.name, i]));
  if (segIndex.size !== scenario.segments.length) throw invalid(s, 'segment names must be unique');
  const hostNames = Object.keys(scenario.hosts);
  if (hostNames.length === 0) throw invalid(s, 'it has no hosts');

  const usedIds = new Set<string>();
  const address = (host: string, segment: string, v6 = false): string | undefined => {
    const iface = scenario.hosts[host]?.interfaces.find((i) => i.segment === segment);
    if (!iface) return undefined;
    const idx = segIndex.get(segment)!;
    return v6 ? hostIpv6(subnet, idx, iface.hostId) : hostIpv4(subnet, idx, iface.hostId);
  };

  const hosts: PlannedHost[] = hostNames.map((hostName, hi) => {
    const spec = scenario.hosts[hostName]!;
    if (!hostNamePattern.test(hostName) || reservedHostNames.has(hostName)) {
      throw invalid(s, `host name "${hostName}" must match ${hostNamePattern} and not be "sw"`);
    }
    if (spec.interfaces.length === 0) throw invalid(s, `host "${hostName}" has no interfaces`);
    const interfaces = spec.interfaces.map((iface, j): PlannedInterface => {
      const idx = segIndex.get(iface.segment);
      if (idx === undefined) throw invalid(s, `host "${hostName}" uses unknown segment "${iface.segment}"`);
      if (!Number.isInteger(iface.hostId) || iface.hostId < 1 || iface.hostId > maxHostId) {
        throw invalid(s, `host "${hostName}" hostId ${iface.hostId} is outside 1..${maxHostId}`);
      }
      const key = `${iface.segment}/${iface.hostId}`;
      if (usedIds.has(key)) throw invalid(s, `hostId ${iface.hostId} is used twice on segment "${iface.segment}"`);
      usedIds.add(key);
      return {
        ifname: `eth${j}`,
        peer: `h${hi}e${j}`,
        segment: iface.segment,
        bridge: `br${idx}`,
        ipv4: hostIpv4(subnet, idx, iface.hostId),
        ...(scenario.ipv6 ? { ipv6: hostIpv6(subnet, idx, iface.hostId) } : {}),
      };
    });
    const routes = (spec.routes ?? []).flatMap((r) => {
      const idx = segIndex.get(r.to);
      if (idx === undefined) throw invalid(s, `host "${hostName}" routes to unknown segment "${r.to}"`);
      const shared = interfaces.map((i) => i.segment).find((seg) => address(r.via, seg) !== undefined);
      if (!shared) throw invalid(s, `host "${hostName}" routes via "${r.via}", which shares no segment with it`);
      const v4 = { to: formatCidr(segmentSubnet(subnet, idx)), via: address(r.via, shared)!, ipv6: false };
      return scenario.ipv6
        ? [v4, { to: `${segmentIpv6Prefix(subnet, idx)}/64`, via: address(r.via, shared, true)!, ipv6: true }]
        : [v4];
    });
    for (const l of spec.listeners ?? []) {
      if (!Number.isInteger(l.port) || l.port < 1 || l.port > 65535) throw invalid(s, `host "${hostName}" listener port ${l.port} is invalid`);
    }
    if (spec.firewall?.rules6 !== undefined && spec.firewall.backend === 'nft') {
      throw invalid(s, `host "${hostName}": rules6 is for iptables backends; put IPv6 rules in the nft script`);
    }
    if (spec.firewall?.ipsets !== undefined && spec.firewall.backend === 'nft') {
      throw invalid(s, `host "${hostName}": ipsets are for iptables backends; use nft sets in the nft script`);
    }
    if (spec.login) {
      if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(spec.login.user) || spec.login.user === 'root') {
        throw invalid(s, `host "${hostName}" login user "${spec.login.user}" must be a lowercase login name other than root`);
      }
      if (spec.sshd === false) throw invalid(s, `host "${hostName}" has a login user but no sshd`);
      const bad = Object.keys(spec.login.libexec ?? {}).find((f) => !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(f));
      if (bad !== undefined) throw invalid(s, `host "${hostName}" libexec file "${bad}" must be a plain file name`);
      const reserved = ['passwd', 'group', 'sudoers.d'].find((f) => Object.keys(spec.etcFiles ?? {}).some((e) => e === f || e.startsWith(`${f}/`)));
      if (reserved) throw invalid(s, `host "${hostName}" has a login user, which owns /etc/${reserved}; drop that etc file`);
    }
    return {
      name: hostName,
      ns: `${name}-${hostName}`,
      interfaces,
      addresses: [...interfaces.map((i) => i.ipv4), ...interfaces.flatMap((i) => (i.ipv6 ? [i.ipv6] : []))],
      aliases: spec.aliases ?? [],
      routes,
      listeners: spec.listeners ?? [],
      ...(spec.firewall ? { firewall: spec.firewall } : {}),
      etcFiles: spec.etcFiles ?? {},
      sysctls: { ...defaultSysctls, ...spec.sysctls },
      sshd: spec.sshd ?? true,
      ...(spec.login ? { login: spec.login } : {}),
    };
  });

  const rootRoutes = scenario.segments.slice(1).flatMap((seg) => {
    if (!seg.reachVia) return [];
    const mgmt = scenario.segments[0]!.name;
    const via = address(seg.reachVia, mgmt);
    if (!via) throw invalid(s, `segment "${seg.name}" is reached via "${seg.reachVia}", which is not on the management segment "${mgmt}"`);
    const idx = segIndex.get(seg.name)!;
    const v4 = { to: formatCidr(segmentSubnet(subnet, idx)), via, ipv6: false };
    return scenario.ipv6
      ? [v4, { to: `${segmentIpv6Prefix(subnet, idx)}/64`, via: address(seg.reachVia, mgmt, true)!, ipv6: true }]
      : [v4];
  });

  const plan: LabPlan = {
    name,
    scenario: scenario.name,
    subnet: formatCidr(subnet),
    switchNs: `${name}-sw`,
    bridges: scenario.segments.map((seg, i) => ({
      segment: seg.name,
      bridge: `br${i}`,
      subnet: formatCidr(segmentSubnet(subnet, i)),
      ...(scenario.ipv6 ? { ipv6Prefix: `${segmentIpv6Prefix(subnet, i)}/64` } : {}),
    })),
    rootVeth: `${name}-m`,
    rootPeer: 'mgmt',
    rootAddress: hostIpv4(subnet, 0, rootHostId),
    ...(scenario.ipv6 ? { rootAddress6: hostIpv6(subnet, 0, rootHostId) } : {}),
    rootRoutes,
    hosts: [],
  };
  const primary = new Map(hosts.map((h) => [h.name, h]));
  const render = (host: PlannedHost, text: string): string => renderTemplate(text, (ref) => {
    const [target, qualifier] = ref.split('.') as [string, string | undefined];
    const h = target === 'self' ? host : primary.get(target);
    if (!h) throw invalid(s, `"{{${ref}}}" names no host`);
    if (qualifier === undefined) return h.interfaces[0]!.ipv4;
    if (qualifier === 'v6') {
      if (!h.interfaces[0]!.ipv6) throw invalid(s, `"{{${ref}}}" needs ipv6: true on the scenario`);
      return h.interfaces[0]!.ipv6;
    }
    const iface = h.interfaces.find((i) => i.segment === qualifier);
    if (!iface) throw invalid(s, `"{{${ref}}}": host "${h.name}" is not on segment "${qualifier}"`);
    return iface.ipv4;
  });
  plan.hosts = hosts.map((h) => ({
    ...h,
    listeners: h.listeners.map((l) => ({ ...l, address: render(h, l.address) })),
    ...(h.firewall ? {
      firewall: {
        ...h.firewall,
        rules: render(h, h.firewall.rules),
        ...(h.firewall.rules6 !== undefined ? { rules6: render(h, h.firewall.rules6) } : {}),
        ...(h.firewall.ipsets !== undefined ? { ipsets: render(h, h.firewall.ipsets) } : {}),
      },
    } : {}),
    etcFiles: Object.fromEntries(Object.entries(h.etcFiles).map(([path, text]) => {
      const parts = path.split('/');
      if (path.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
        throw invalid(s, `host "${h.name}" etc file "${path}" must be a plain path relative to /etc`);
      }
      return [path, render(h, text)];
    })),
  }));
  return plan;
}

/** Replaces `{{host}}`, `{{host.v6}}`, `{{host.segment}}` and `{{self…}}` with addresses. */
export function renderTemplate(text: string, resolve: (ref: string) => string): string {
  return text.replace(/\{\{\s*([a-z][a-z0-9-]*(?:\.[a-z0-9-]+)?)\s*\}\}/g, (_m, ref: string) => resolve(ref));
}
