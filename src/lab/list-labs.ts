import { findBinary } from './check-lab-support.ts';
import { defaultLabRegistryDir, readRegisteredLabs } from './lab-state.ts';
import { runCommand } from './run-command.ts';

export interface LabSummary {
  name: string;
  scenario: string;
  status: 'starting' | 'up';
  subnet: string;
  dir: string;
  createdAt: string;
  hosts: Record<string, { ns: string; addresses: string[] }>;
  /** Namespaces the state lists but the kernel no longer has (e.g. after a reboot or a manual `ip netns del`). */
  missingNamespaces: string[];
}

/** Labs from the registry, cross-checked against `ip netns list`. */
export async function listLabs(registryDir: string = defaultLabRegistryDir): Promise<LabSummary[]> {
  const ip = findBinary('ip', process.env.PATH ?? '') ?? 'ip';
  const r = await runCommand([ip, 'netns', 'list']);
  const present = new Set(r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean));
  return readRegisteredLabs(registryDir)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    .map((l) => ({
      name: l.name,
      scenario: l.scenario,
      status: l.status,
      subnet: l.subnet,
      dir: l.dir,
      createdAt: l.createdAt,
      hosts: Object.fromEntries(Object.entries(l.hosts).map(([n, h]) => [n, { ns: h.ns, addresses: h.addresses }])),
      missingNamespaces: l.namespaces.filter((ns) => !present.has(ns)),
    }));
}
