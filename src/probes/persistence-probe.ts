import type { RemoteCommand } from '../remote/remote-command.ts';
import { pastTense } from '../triage/assemble-report.ts';
import type { EvidenceItem } from '../triage/report-types.ts';
import type { FirewallData, FlowVerdict, PersistenceData, RulesetDump, SavedRulesetInfo } from '../triage/evidence-types.ts';
import { type CommandOutput, describeFailure, lines } from './command-output.ts';
import { describeVerdict } from './firewall-probe.ts';
import type { ExplainFlow } from './ports.ts';
import { requireAbsolutePath } from './probe-args.ts';
import { diffDumps, diffLines } from './ruleset-text.ts';

const savedTextFiles: { path: string; kind: SavedRulesetInfo['kind'] }[] = [
  { path: '/etc/sysconfig/iptables', kind: 'iptables' },
  { path: '/etc/sysconfig/ip6tables', kind: 'ip6tables' },
  { path: '/etc/iptables/rules.v4', kind: 'iptables' },
  { path: '/etc/iptables/rules.v6', kind: 'ip6tables' },
  { path: '/etc/ufw/user.rules', kind: 'ufw' },
  { path: '/etc/ufw/user6.rules', kind: 'ufw' },
];
const nftConfFiles = ['/etc/nftables.conf', '/etc/sysconfig/nftables.conf'] as const;

/** Where deploy/host/onboard-host.sh installs deploy/host/why-blocked-probe. */
export const defaultProbeHelperPath = '/usr/local/libexec/why-blocked/why-blocked-probe';

export interface PersistenceCommandOptions {
  /** @defaultValue defaultProbeHelperPath */
  probeHelperPath?: string;
}

export type PersistenceCommandKey =
  | 'saved-files' | 'nftables-conf' | 'sysconfig-nftables-conf' | 'nftables-enabled' | 'firewalld-permanent' | 'firewalld-runtime';

/**
 * The nftables configs are checked by the root-owned helper (`why-blocked-probe nft-conf FILE`):
 * it loads the file into a fresh, empty network namespace and lists it as JSON, i.e. the exact
 * ruleset a boot would load, parsed by nft itself, without touching the running rules. That needs
 * two commands in one namespace, which a sudoers entry cannot express without a shell.
 */
export function buildPersistenceCommands(options: PersistenceCommandOptions = {}): Record<PersistenceCommandKey, RemoteCommand> {
  const helper = requireAbsolutePath(options.probeHelperPath ?? defaultProbeHelperPath);
  const nftConf = (path: string): RemoteCommand => ({ argv: [helper, 'nft-conf', path], sudo: true, timeoutMs: 5000, maxOutputBytes: 8 * 1024 * 1024 });
  return {
    'saved-files': { argv: ['grep', '-sH', '', ...savedTextFiles.map((f) => f.path)], sudo: true, timeoutMs: 3000, maxOutputBytes: 8 * 1024 * 1024 },
    'nftables-conf': nftConf(nftConfFiles[0]),
    'sysconfig-nftables-conf': nftConf(nftConfFiles[1]),
    // Debian ships /etc/nftables.conf with the service disabled: the file only matters if it loads at boot.
    'nftables-enabled': { argv: ['systemctl', 'is-enabled', 'nftables'], timeoutMs: 3000, maxOutputBytes: 4096 },
    'firewalld-permanent': { argv: ['firewall-cmd', '--permanent', '--list-all-zones'], sudo: true, timeoutMs: 5000, maxOutputBytes: 1024 * 1024 },
    'firewalld-runtime': { argv: ['firewall-cmd', '--list-all-zones'], sudo: true, timeoutMs: 5000, maxOutputBytes: 1024 * 1024 },
  };
}

export function splitGrepFiles(stdout: string): Map<string, string> {
  const byFile = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const at = line.indexOf(':');
    if (at <= 0 || !line.startsWith('/')) continue;
    const file = line.slice(0, at);
    byFile.set(file, [...(byFile.get(file) ?? []), line.slice(at + 1)]);
  }
  return new Map([...byFile].map(([f, l]) => [f, `${l.join('\n')}\n`]));
}

export interface PersistenceContext {
  runtime: FirewallData;
  explain?: ExplainFlow;
}

/** Which runtime dump a saved file replaces at boot. */
function runtimeSourceFor(kind: 'iptables' | 'ip6tables', runtime: FirewallData): string {
  const prefix = kind === 'ip6tables' ? 'ip6tables' : 'iptables';
  const variant = runtime.backend.iptablesVariant === 'legacy' ? 'legacy' : 'nft';
  const preferred = `${prefix}-${variant}`;
  if (runtime.dumps.some((d) => d.source === preferred)) return preferred;
  return runtime.dumps.find((d) => d.source.startsWith(`${prefix}-`))?.source ?? preferred;
}

export function parsePersistenceOutputs(outputs: Partial<Record<PersistenceCommandKey, CommandOutput>>, ctx: PersistenceContext): EvidenceItem {
  const durationMs = Math.max(0, ...Object.values(outputs).map((o) => o?.durationMs ?? 0));
  const files = splitGrepFiles(outputs['saved-files']?.stdout ?? '');
  const savedFiles: SavedRulesetInfo[] = savedTextFiles.filter((f) => files.has(f.path)).map((f) => ({ path: f.path, kind: f.kind }));
  const nftSaved: { path: string; out: CommandOutput }[] = [];
  const enabled = outputs['nftables-enabled'];
  // No systemctl (exit 127) or no answer: assume it loads, and say so.
  const nftLoadsAtBoot = enabled === undefined || enabled.code === 127 || /^(enabled|static|alias)/m.test(enabled.stdout);
  for (const [key, path] of [['nftables-conf', nftConfFiles[0]], ['sysconfig-nftables-conf', nftConfFiles[1]]] as const) {
    const o = outputs[key];
    if (o && o.code === 0 && o.stdout.trim() !== '') {
      savedFiles.push({ path, kind: 'nftables' });
      if (nftLoadsAtBoot) nftSaved.push({ path, out: o });
    }
  }
  // sudo says "command not found" for a missing helper; a root login's shell exits 127.
  const helperMissing = (['nftables-conf', 'sysconfig-nftables-conf'] as const)
    .some((k) => outputs[k] !== undefined && (outputs[k].code === 127 || /command not found/.test(outputs[k].stderr)));
  const fwPermanent = outputs['firewalld-permanent'];
  const fwRuntime = outputs['firewalld-runtime'];
  const firewalldBoth = fwPermanent?.code === 0 && fwRuntime?.code === 0;
  if (firewalldBoth) savedFiles.push({ path: 'firewall-cmd --permanent', kind: 'firewalld' });

  const family = ctx.runtime.forwardFlow?.family ?? 'ipv4';
  const wantKind = family === 'ipv6' ? 'ip6tables' : 'iptables';
  const textFile = savedFiles.find((f) => f.kind === wantKind);
  const data: PersistenceData = { savedFiles, drift: { onlyRuntime: [], onlySaved: [] } };
  let savedDumps: RulesetDump[] | undefined;
  const raw: string[] = [];
  if (textFile) {
    const source = runtimeSourceFor(wantKind, ctx.runtime);
    const runtimeDump = ctx.runtime.dumps.find((d) => d.source === source);
    const saved: RulesetDump = { source, format: 'iptables-save', family, text: files.get(textFile.path)! };
    const diff = diffDumps(runtimeDump, saved);
    data.compared = textFile.path;
    data.drift = { onlyRuntime: diff.onlyA, onlySaved: diff.onlyB };
    savedDumps = [...ctx.runtime.dumps.filter((d) => d.source !== source), saved];
  } else if (nftSaved.length > 0) {
    const { path, out } = nftSaved[0]!;
    const runtimeDump = ctx.runtime.dumps.find((d) => d.source === 'nft');
    const saved: RulesetDump = { source: 'nft', format: 'nft-json', text: out.stdout };
    const diff = diffDumps(runtimeDump, saved);
    data.compared = path;
    data.drift = { onlyRuntime: diff.onlyA, onlySaved: diff.onlyB };
    savedDumps = [...ctx.runtime.dumps.filter((d) => d.source !== 'nft'), saved];
  } else if (firewalldBoth) {
    const diff = diffLines(lines(fwRuntime.stdout), lines(fwPermanent.stdout));
    data.compared = 'firewall-cmd --permanent --list-all-zones';
    data.drift = { onlyRuntime: diff.onlyA, onlySaved: diff.onlyB };
    data.note = 'firewalld: runtime vs permanent configuration compared; the permanent rules are not simulated';
  } else if (savedFiles.some((f) => f.kind === 'ufw')) {
    data.note = 'ufw user rules found; they are fragments of the ruleset ufw builds, so they are compared by ufw itself (ufw status) rather than simulated';
  }
  if (savedDumps && ctx.runtime.forwardFlow && ctx.explain) {
    try {
      data.saved = ctx.explain({ dumps: savedDumps, flow: ctx.runtime.forwardFlow, host: { localAddresses: ctx.runtime.localAddresses, interfaces: ctx.runtime.interfaces } });
    } catch (err) {
      data.note = `the saved rules could not be simulated: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  if (helperMissing) raw.push('nftables.conf not checked: why-blocked-probe is not installed on the host (deploy/host/onboard-host.sh installs it)');
  raw.push(...data.drift.onlyRuntime.slice(0, 5).map((l) => `running only: ${l}`), ...data.drift.onlySaved.slice(0, 5).map((l) => `saved only:   ${l}`));
  const saved: FlowVerdict | undefined = data.saved;
  let summary: string;
  if (!data.compared) {
    const failed = outputs['saved-files'] && outputs['saved-files'].code !== 0 && outputs['saved-files'].code !== 2 && outputs['saved-files'].code !== 1;
    summary = failed ? `could not read the saved rules: ${describeFailure('grep', outputs['saved-files']!).text}` : `no saved ruleset found for the backend in use${data.note ? ` (${data.note})` : ''}`;
  } else {
    const driftCount = data.drift.onlyRuntime.length + data.drift.onlySaved.length;
    summary = `${data.compared}: ${driftCount === 0 ? 'same rules as running' : `${driftCount} line(s) differ from the running rules`}`;
    if (saved) summary += `; after a reboot this flow will be ${pastTense(saved.verdict)} (${describeVerdict(saved)})`;
    else if (data.note) summary += ` (${data.note})`;
  }
  const runtimeVerdict = ctx.runtime.forward?.verdict;
  const ok = data.drift.onlyRuntime.length + data.drift.onlySaved.length === 0 && (saved === undefined || runtimeVerdict === undefined || saved.verdict === runtimeVerdict);
  return { probe: 'persistence', ok, summary, raw, durationMs, data };
}
