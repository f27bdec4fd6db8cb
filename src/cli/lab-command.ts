import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { usageError } from '../errors.ts';
import { findLabState, labScenarios, listLabs, startLab, stopLab, type LabSummary } from '../lab/index.ts';
import type { CliCommand, CliIo } from './cli-command.ts';

const usage = `Usage:
  why-blocked lab up SCENARIO [--dir DIR] [--cidr CIDR] [--json]
  why-blocked lab down [NAME | DIR | --all]
  why-blocked lab list [--json]

Builds real hosts (network namespaces with sshd, listeners, firewalls and /etc files) that reproduce
an incident, plus an inventory, known_hosts and key to reach them over SSH. Needs root on Linux.

  --dir DIR     lab directory (default: $WHY_BLOCKED_LAB_DIR/<name>, i.e. ./var/lab/<name>)
  --cidr CIDR   private range to take the lab's /24 from (default: $WHY_BLOCKED_LAB_CIDR or 10.240.0.0/16)

Scenarios:
${[...labScenarios.values()].map((s) => `  ${s.name.padEnd(14)}${s.summary}`).join('\n')}`;

function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel.startsWith('..') || rel === '' ? path : `./${rel}`;
}

async function up(positionals: string[], values: { dir?: string; cidr?: string; json?: boolean }, io: CliIo): Promise<number> {
  const [scenario, ...extra] = positionals;
  if (scenario === undefined) throw usageError(`missing SCENARIO; known scenarios: ${[...labScenarios.keys()].join(', ')}`);
  if (extra.length > 0) throw usageError(`unexpected arguments: ${extra.join(' ')}`);
  const lab = await startLab(scenario, {
    log: io.log, env: io.env, cwd: io.cwd, signal: io.signal,
    ...(values.dir !== undefined ? { dir: values.dir } : {}),
    ...(values.cidr !== undefined ? { cidr: values.cidr } : {}),
  });
  if (values.json) {
    const { exec: _e, spawn: _s, stop: _st, ...data } = lab;
    io.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    return 0;
  }
  const hostLines = Object.values(lab.hosts).map((h) => `  ${h.name.padEnd(10)} ${h.addresses.join(', ').padEnd(18)} netns ${h.ns}`);
  io.stdout.write([
    `lab ${lab.name} is up (scenario ${lab.scenario}, ${lab.subnet}; this machine is ${lab.rootAddress})`,
    '',
    ...hostLines,
    '',
    `  inventory    ${shown(lab.inventoryFile, io.cwd)}`,
    `  known_hosts  ${shown(lab.knownHostsFile, io.cwd)}`,
    `  private key  ${shown(lab.privateKeyFile, io.cwd)}`,
    '',
    `next: why-blocked inventory check ${shown(lab.inventoryFile, io.cwd)}`,
    `      ip netns exec ${lab.hosts.client?.ns ?? Object.values(lab.hosts)[0]!.ns} bash   # a shell on a lab host`,
    `done: why-blocked lab down ${lab.name}`,
    '',
  ].join('\n'));
  return 0;
}

async function down(positionals: string[], all: boolean, io: CliIo): Promise<number> {
  if (positionals.length > 1) throw usageError(`unexpected arguments: ${positionals.slice(1).join(' ')}`);
  let targets: string[];
  if (all) {
    if (positionals.length > 0) throw usageError('give either NAME or --all, not both');
    targets = (await listLabs()).map((l) => l.name);
  } else if (positionals[0] !== undefined) {
    targets = [positionals[0]];
  } else {
    const labs = await listLabs();
    if (labs.length !== 1) {
      throw usageError(labs.length === 0 ? 'no labs are running' : `${labs.length} labs are running (${labs.map((l) => l.name).join(', ')}); name one or use --all`);
    }
    targets = [labs[0]!.name];
  }
  const failures: string[] = [];
  for (const name of targets) {
    try {
      const state = findLabState(name);
      await stopLab(state, { log: io.log });
      io.stdout.write(`lab ${state.name} removed\n`);
    } catch (err) {
      if (targets.length === 1) throw err;
      failures.push(`${name}: ${(err as Error).message}`);
    }
  }
  if (targets.length === 0) io.stdout.write('no labs are running\n');
  for (const f of failures) io.stderr.write(`why-blocked lab down: ${f}\n`);
  return failures.length > 0 ? 1 : 0;
}

function renderList(labs: LabSummary[]): string {
  if (labs.length === 0) return 'no labs are running\n';
  const rows = [['NAME', 'SCENARIO', 'STATUS', 'SUBNET', 'HOSTS', 'DIR'], ...labs.map((l) => [
    l.name, l.scenario,
    l.missingNamespaces.length > 0 ? `broken (missing ${l.missingNamespaces.join(',')})` : l.status,
    l.subnet,
    Object.entries(l.hosts).map(([n, h]) => `${n}=${h.addresses[0] ?? '?'}`).join(' '),
    l.dir,
  ])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      dir: { type: 'string' },
      cidr: { type: 'string' },
      all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const [sub, ...rest] = positionals;
  switch (sub) {
    case 'up':
      return up(rest, values, io);
    case 'down':
      return down(rest, values.all ?? false, io);
    case 'list': {
      if (rest.length > 0) throw usageError(`unexpected arguments: ${rest.join(' ')}`);
      const labs = await listLabs();
      io.stdout.write(values.json ? `${JSON.stringify(labs, null, 2)}\n` : renderList(labs));
      return 0;
    }
    default:
      throw usageError(sub === undefined ? 'missing subcommand: up, down or list' : `unknown subcommand "${sub}": use up, down or list`);
  }
}

export const labCommand: CliCommand = {
  name: 'lab',
  summary: 'Build, list and remove network-namespace labs that reproduce incidents (root, Linux)',
  usage,
  run,
};
