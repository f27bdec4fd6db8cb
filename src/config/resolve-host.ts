import { isIP } from 'node:net';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { Inventory, InventoryHost } from './inventory-types.ts';
import { closestNames } from './closest-names.ts';
import { normalizeAddress } from './load-inventory.ts';

/** Maps a name, an alias or a listed address to exactly one inventory host. */
export function resolveHost(inventory: Inventory, input: string): InventoryHost {
  const wanted = input.trim();
  const byName = inventory.hosts.get(wanted);
  if (byName) return byName;
  const lower = wanted.toLowerCase();
  const address = isIP(wanted) !== 0 ? normalizeAddress(wanted) : undefined;
  for (const host of inventory.hosts.values()) {
    if (host.name.toLowerCase() === lower) return host;
    if (host.aliases.some((a) => a.toLowerCase() === lower)) return host;
    if (address !== undefined && host.addresses.includes(address)) return host;
  }
  const names = [...inventory.hosts.values()].flatMap((h) => [h.name, ...h.aliases]);
  const suggestions = closestNames(wanted, names);
  throw new WhyBlockedError(
    ErrorCode.UnknownHost,
    `"${wanted}" is not in the inventory (${inventory.file})${suggestions.length ? `; did you mean ${suggestions.map((s) => `"${s}"`).join(' or ')}?` : '; add it to the inventory or use one of its names, aliases or addresses'}`,
    { details: { input: wanted, suggestions } },
  );
}
