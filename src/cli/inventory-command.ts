import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadInventory } from '../config/load-inventory.ts';
import type { InventoryHost } from '../config/inventory-types.ts';
import { usageError } from '../errors.ts';
import type { CliCommand, CliIo } from './cli-command.ts';

const usage = `Usage: why-blocked inventory check [FILE] [--json]

Validates an inventory file (default: $WHY_BLOCKED_INVENTORY or ./inventory.yml) and prints its hosts.
Exit code 0 when valid, 2 when the file is invalid or missing.`;

function describeSsh(h: InventoryHost): string {
  const via = h.ssh.jump ? ` via ${h.ssh.jump}` : '';
  return `${h.ssh.user}@${h.addresses[0] ?? '?'}:${h.ssh.port}${via}${h.ssh.sudo ? ' (sudo -n)' : ''}`;
}

function render(hosts: InventoryHost[]): string {
  const rows = [['HOST', 'ADDRESSES', 'ALIASES', 'SITE', 'SSH'], ...hosts.map((h) => [h.name, h.addresses.join(','), h.aliases.join(',') || '-', h.site, describeSsh(h)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** Files the workers will need; missing ones are warnings because the check may run elsewhere. */
function missingFiles(hosts: InventoryHost[]): string[] {
  const paths = new Set<string>();
  for (const h of hosts) {
    if (h.ssh.privateKey) paths.add(h.ssh.privateKey);
    if (h.ssh.knownHosts) paths.add(h.ssh.knownHosts);
  }
  return [...paths].filter((p) => !existsSync(p));
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, allowPositionals: true, strict: true });
  const [sub, file, ...extra] = positionals;
  if (sub !== 'check') throw usageError(sub === undefined ? 'missing subcommand: use `inventory check [FILE]`' : `unknown subcommand "${sub}": use \`inventory check [FILE]\``);
  if (extra.length > 0) throw usageError(`unexpected arguments: ${extra.join(' ')}`);
  const path = file ?? io.env.WHY_BLOCKED_INVENTORY ?? './inventory.yml';
  const inventory = loadInventory(path, io.cwd);
  const hosts = [...inventory.hosts.values()];
  const missing = missingFiles(hosts);
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ file: inventory.file, hosts: hosts.map(({ line: _line, ...h }) => h), missingFiles: missing }, null, 2)}\n`);
    return 0;
  }
  io.stdout.write(`${inventory.file}: ${hosts.length} host${hosts.length === 1 ? '' : 's'}, valid\n\n${render(hosts)}\n`);
  for (const p of missing) io.stderr.write(`warning: ${p} does not exist on this machine; the workers need it\n`);
  return 0;
}

export const inventoryCommand: CliCommand = {
  name: 'inventory',
  summary: 'Validate an inventory file and list its hosts',
  usage,
  run,
};
