import { ipv4ToInt, type Ipv4Cidr, type OccupiedRange } from './lab-addressing.ts';
import { runChecked } from './run-command.ts';

function toCidr(text: string, prefixLen?: number): Ipv4Cidr | undefined {
  const [addr, prefix] = text.split('/');
  try {
    const p = prefixLen ?? (prefix === undefined ? 32 : Number(prefix));
    const base = ipv4ToInt(addr!);
    const m = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
    return { base: (base & m) >>> 0, prefix: p };
  } catch {
    return undefined;
  }
}

/** Parses `ip -j -4 route show table all` and `ip -j -4 addr show`; default routes never count. */
export function occupiedFromIpJson(routes: unknown, addrs: unknown): OccupiedRange[] {
  const out: OccupiedRange[] = [];
  for (const r of Array.isArray(routes) ? routes as { dst?: string; dev?: string }[] : []) {
    if (!r.dst || r.dst === 'default') continue;
    const cidr = toCidr(r.dst);
    if (cidr && cidr.prefix > 0) out.push({ cidr, what: `route ${r.dst}${r.dev ? ` dev ${r.dev}` : ''}` });
  }
  for (const link of Array.isArray(addrs) ? addrs as { ifname?: string; addr_info?: { family?: string; local?: string; prefixlen?: number }[] }[] : []) {
    for (const a of link.addr_info ?? []) {
      if (a.family !== 'inet' || !a.local) continue;
      const cidr = toCidr(a.local, a.prefixlen);
      if (cidr) out.push({ cidr, what: `address ${a.local}/${a.prefixlen} on ${link.ifname ?? '?'}` });
    }
  }
  return out;
}

/** What the root namespace already uses. */
export async function readOccupiedRanges(ipBinary = 'ip'): Promise<OccupiedRange[]> {
  const [routes, addrs] = await Promise.all([
    runChecked([ipBinary, '-j', '-4', 'route', 'show', 'table', 'all']),
    runChecked([ipBinary, '-j', '-4', 'addr', 'show']),
  ]);
  return occupiedFromIpJson(JSON.parse(routes.stdout || '[]'), JSON.parse(addrs.stdout || '[]'));
}
