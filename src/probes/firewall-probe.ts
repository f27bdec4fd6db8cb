import type { RemoteCommand } from '../remote/remote-command.ts';
import type { EvidenceItem } from '../triage/report-types.ts';
import type {
  AddressFamily, FirewallBackendInfo, FirewallData, FlowSpec, FlowVerdict, HostInterfaceInfo, RulesetDump,
} from '../triage/evidence-types.ts';
import { type CommandOutput, describeFailure, failedEvidence, lines } from './command-output.ts';
import type { ExplainFlow } from './ports.ts';
import { familyOf, requireIp, requirePort } from './probe-args.ts';
import { hashRulesets } from './ruleset-text.ts';

const dumpTimeoutMs = 5000;
const dumpMaxBytes = 8 * 1024 * 1024;

/** Every command the firewall probe runs on the target; all independent, run them concurrently. */
export const firewallCommandKeys = [
  'iptables-version', 'tables-names', 'iptables-legacy-save', 'iptables-nft-save', 'ip6tables-legacy-save',
  'ip6tables-nft-save', 'iptables-save', 'ip6tables-save', 'nft', 'services', 'addresses', 'rp-filter',
] as const;
export type FirewallCommandKey = (typeof firewallCommandKeys)[number];

export function buildFirewallCommands(): Record<FirewallCommandKey, RemoteCommand> {
  const save = (tool: string): RemoteCommand => ({ argv: [tool], sudo: true, timeoutMs: dumpTimeoutMs, maxOutputBytes: dumpMaxBytes });
  return {
    'iptables-version': { argv: ['iptables', '-V'], timeoutMs: 3000, maxOutputBytes: 4096 },
    // Legacy tables exist iff these are non-empty; `-t table` on a save tool would create them.
    'tables-names': { argv: ['grep', '-sH', '', '/proc/net/ip_tables_names', '/proc/net/ip6_tables_names'], sudo: true, timeoutMs: 3000, maxOutputBytes: 4096 },
    'iptables-legacy-save': save('iptables-legacy-save'),
    'iptables-nft-save': save('iptables-nft-save'),
    'ip6tables-legacy-save': save('ip6tables-legacy-save'),
    'ip6tables-nft-save': save('ip6tables-nft-save'),
    // RHEL 7 era hosts have only the unsuffixed (legacy) tools.
    'iptables-save': save('iptables-save'),
    'ip6tables-save': save('ip6tables-save'),
    nft: { argv: ['nft', '-j', 'list', 'ruleset'], sudo: true, timeoutMs: dumpTimeoutMs, maxOutputBytes: dumpMaxBytes },
    services: { argv: ['systemctl', 'is-active', 'firewalld', 'ufw'], timeoutMs: 3000, maxOutputBytes: 4096 },
    addresses: { argv: ['ip', '-j', 'addr'], timeoutMs: 3000, maxOutputBytes: 1024 * 1024 },
    'rp-filter': { argv: ['sysctl', '-a', '--pattern', '\\.rp_filter$'], timeoutMs: 3000, maxOutputBytes: 256 * 1024 },
  };
}

/**
 * `ipset save`, asked only when a dump names a set: the analyzer judges `-m set` rules from it
 * (without it they are unknown). Taken right after the dumps, so the two describe the same moment.
 */
export function buildIpsetSaveCommand(): RemoteCommand {
  return { argv: ['ipset', 'save'], sudo: true, timeoutMs: dumpTimeoutMs, maxOutputBytes: dumpMaxBytes };
}

export function dumpsUseIpsets(dumps: readonly RulesetDump[]): boolean {
  return dumps.some((d) => d.format === 'iptables-save' && /\s--match-set\s/.test(d.text));
}

/** Folds the `ipset save` result into what was collected: the contents, or why they are missing. */
export function addIpsetOutput(collected: { ipsetSave?: string; missing: string[] }, out: CommandOutput | undefined): void {
  if (out === undefined) collected.missing.push('ipset: `ipset save` could not be run, so -m set rules stay unknown');
  else if (out.code === 0) collected.ipsetSave = out.stdout;
  else if (out.code === 127) collected.missing.push('ipset: the rules use -m set but the ipset tool is not installed, so those rules stay unknown');
  else collected.missing.push(`ipset: ${describeFailure('ipset save', out).text}; -m set rules stay unknown`);
}

/** `ip -j route get CLIENT` on the target: the interface replies leave by, i.e. where the SYN comes in. */
export function buildRouteGetCommand(options: { address: string }): RemoteCommand {
  return { argv: ['ip', '-j', 'route', 'get', requireIp(options.address, 'client address')], timeoutMs: 3000, maxOutputBytes: 64 * 1024 };
}

export interface RouteInfo { dev?: string; prefsrc?: string; gateway?: string; unreachable?: string }

export function parseRouteGet(out: CommandOutput): RouteInfo {
  if (out.code !== 0) return { unreachable: lines(out.stderr)[0] ?? `exit ${String(out.code)}` };
  try {
    const [r] = JSON.parse(out.stdout) as { dev?: string; prefsrc?: string; gateway?: string }[];
    return { ...(r?.dev ? { dev: r.dev } : {}), ...(r?.prefsrc ? { prefsrc: r.prefsrc } : {}), ...(r?.gateway ? { gateway: r.gateway } : {}) };
  } catch {
    return {};
  }
}

export function parseIpAddrJson(text: string): HostInterfaceInfo[] {
  try {
    const ifaces = JSON.parse(text) as { ifname: string; addr_info?: { local: string; prefixlen: number }[] }[];
    return ifaces.map((i) => ({ name: i.ifname, addresses: (i.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`) }));
  } catch {
    return [];
  }
}

export function parseRpFilter(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^net\.ipv4\.conf\.([^.\s]+)\.rp_filter\s*=\s*(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** `nft -j list ruleset` always prints its metainfo; only tables make it a ruleset. */
export function nftHasTables(json: string): boolean {
  try {
    const doc = JSON.parse(json) as { nftables?: Record<string, unknown>[] };
    return (doc.nftables ?? []).some((item) => 'table' in item);
  } catch {
    return json.trim() !== '';
  }
}

const ok = (o: CommandOutput | undefined): o is CommandOutput => o !== undefined && o.code === 0;

/** Everything but the analysis: backend detection, dumps, addresses, rp_filter. */
export function parseFirewallOutputs(outputs: Partial<Record<FirewallCommandKey, CommandOutput>>): Omit<FirewallData, 'forward' | 'reply'> {
  const missing: string[] = [];
  const version = outputs['iptables-version'];
  const variantMatch = ok(version) ? /\((legacy|nf_tables)\)/.exec(version.stdout) : null;
  const names = outputs['tables-names']?.stdout ?? '';
  const backend: FirewallBackendInfo = {
    ...(variantMatch ? { iptablesVariant: variantMatch[1] as 'legacy' | 'nf_tables' } : {}),
    legacyTablesLoaded: /^\/proc\/net\/ip_tables_names:\S/m.test(names),
    legacy6TablesLoaded: /^\/proc\/net\/ip6_tables_names:\S/m.test(names),
    nftPresent: outputs.nft !== undefined && outputs.nft.code !== 127,
    firewalldActive: /^active$/m.test((outputs.services?.stdout ?? '').split('\n')[0] ?? ''),
    ufwActive: ((outputs.services?.stdout ?? '').split('\n')[1] ?? '') === 'active',
  };
  const dumps: RulesetDump[] = [];
  const take = (key: FirewallCommandKey, source: string, family: AddressFamily, tool?: string): boolean => {
    const o = outputs[key];
    if (o === undefined) return false;
    if (o.code !== 0) {
      if (o.code !== 127) missing.push(`${source}: ${describeFailure(key, o).text}`);
      return false;
    }
    if (o.truncated) missing.push(`${source}: output cut at the size limit; rules after it are not simulated`);
    if (o.stdout.trim() !== '') dumps.push({ source, format: 'iptables-save', family, text: o.stdout, ...(tool ? { tool } : {}) });
    return true;
  };
  const legacy4 = take('iptables-legacy-save', 'iptables-legacy', 'ipv4');
  const nft4 = take('iptables-nft-save', 'iptables-nft', 'ipv4');
  // Only the unsuffixed tools: the fixes must name `iptables`, which is what such a host has.
  if (!legacy4 && !nft4) take('iptables-save', backend.iptablesVariant === 'nf_tables' ? 'iptables-nft' : 'iptables-legacy', 'ipv4', 'iptables');
  const legacy6 = take('ip6tables-legacy-save', 'ip6tables-legacy', 'ipv6');
  const nft6 = take('ip6tables-nft-save', 'ip6tables-nft', 'ipv6');
  if (!legacy6 && !nft6) take('ip6tables-save', backend.iptablesVariant === 'nf_tables' ? 'ip6tables-nft' : 'ip6tables-legacy', 'ipv6', 'ip6tables');
  const nft = outputs.nft;
  if (nft !== undefined && nft.code === 0) {
    if (nftHasTables(nft.stdout)) dumps.push({ source: 'nft', format: 'nft-json', text: nft.stdout });
  } else if (nft !== undefined && nft.code !== 127) missing.push(`nft: ${describeFailure('nft', nft).text}`);
  const interfaces = ok(outputs.addresses) ? parseIpAddrJson(outputs.addresses.stdout) : [];
  const localAddresses = interfaces.flatMap((i) => i.addresses.map((a) => a.replace(/\/\d+$/, '')));
  const rpFilter = outputs['rp-filter'] ? parseRpFilter(outputs['rp-filter'].stdout) : {};
  return { backend, dumps, localAddresses, interfaces, rpFilter, missing, ...(dumps.length > 0 ? { rulesetHash: hashRulesets(dumps) } : {}) };
}

export interface FlowEndpoints {
  client: string;
  target: string;
  port: number;
  /** Interface the SYN arrives on (from `ip route get CLIENT` on the target). */
  inIface?: string;
  /** Stand-in client port: the real one is chosen per connection. @defaultValue 40000 */
  clientPort?: number;
}

export function flowsFor(e: FlowEndpoints): { forward: FlowSpec; reply: FlowSpec } {
  const client = requireIp(e.client, 'client address');
  const target = requireIp(e.target, 'target address');
  const port = requirePort(e.port);
  const family = familyOf(target);
  const sport = e.clientPort ?? 40000;
  return {
    forward: { family, proto: 'tcp', src: client, dst: target, sport, dport: port, state: 'NEW', ...(e.inIface ? { inIface: e.inIface } : {}) },
    reply: { family, proto: 'tcp', src: target, dst: client, sport: port, dport: sport, state: 'ESTABLISHED' },
  };
}

function ruleLabel(v: FlowVerdict): string {
  const d = v.decidedBy;
  if (!d) return 'no rule';
  if (d.position === undefined) return `${d.table}/${d.chain} policy ${d.policy ?? ''}`.trim();
  return `${d.table}/${d.chain} rule ${d.position}${d.rule ? ` \`${d.rule}\`` : ''}`;
}

export function describeVerdict(v: FlowVerdict): string {
  const what = v.verdict === 'reject' ? `rejects it${v.rejectWith ? ` (${v.rejectWith})` : ''}` : v.verdict === 'drop' ? 'drops it' : v.verdict === 'accept' ? 'accepts it' : 'cannot be decided offline';
  return `${ruleLabel(v)} ${what}`;
}

/** Runs the analyzer on the collected rules for the request and the reply; analysis failures are evidence too. */
export function analyzeFirewall(collected: Omit<FirewallData, 'forward' | 'reply'>, endpoints: FlowEndpoints, explain: ExplainFlow | undefined, durationMs = 0): EvidenceItem {
  const { forward: forwardFlow, reply: replyFlow } = flowsFor(endpoints);
  const data: FirewallData = { ...collected, forwardFlow, replyFlow };
  const backendText = [
    collected.backend.iptablesVariant ? `iptables is ${collected.backend.iptablesVariant}` : undefined,
    collected.backend.legacyTablesLoaded ? 'legacy tables loaded' : undefined,
    collected.backend.firewalldActive ? 'firewalld active' : undefined,
    collected.backend.ufwActive ? 'ufw active' : undefined,
  ].filter((s) => s !== undefined).join(', ');
  if (collected.dumps.length === 0) {
    return {
      ...failedEvidence('firewall', `no ruleset could be read${collected.missing.length > 0 ? `: ${collected.missing.join('; ')}` : ''}`, { durationMs }, 'no-ruleset'),
      data,
    };
  }
  if (!explain) {
    data.analysisError = 'the analyzer is not available';
    return { probe: 'firewall', ok: false, summary: `collected ${collected.dumps.map((d) => d.source).join(', ')} (${backendText}); not simulated: ${data.analysisError}`, raw: [], durationMs, data };
  }
  const host = { localAddresses: collected.localAddresses, interfaces: collected.interfaces, ...(collected.ipsetSave === undefined ? {} : { ipsetSave: collected.ipsetSave }) };
  try {
    const { reply, ...forward } = explain({ dumps: collected.dumps, flow: forwardFlow, host });
    data.forward = forward;
    if (reply) data.reply = reply;
  } catch (err) {
    data.analysisError = err instanceof Error ? err.message : String(err);
  }
  if (!data.forward) {
    return { probe: 'firewall', ok: false, summary: `collected ${collected.dumps.map((d) => d.source).join(', ')}; the simulation failed: ${data.analysisError ?? 'no result'}`, raw: [], durationMs, data };
  }
  const flowText = `tcp ${forwardFlow.src} → ${forwardFlow.dst}:${forwardFlow.dport}`;
  let summary = `${flowText}: ${describeVerdict(data.forward)}`;
  if (data.forward.shadowedAccepts.length > 0) {
    summary += `; the ACCEPT at ${data.forward.shadowedAccepts.map((r) => `${r.table}/${r.chain} rule ${r.position ?? '?'}`).join(', ')} would match but comes later`;
  }
  if (data.forward.verdict === 'accept' && data.reply && data.reply.verdict !== 'accept') summary += `; the reply: ${describeVerdict(data.reply)}`;
  if (backendText) summary += ` [${backendText}]`;
  const raw = [
    ...(data.forward.decidedBy?.rule ? [data.forward.decidedBy.rule] : []),
    ...data.forward.shadowedAccepts.map((r) => r.rule ?? `${r.chain} ${r.position ?? ''}`),
    ...(data.reply && data.reply.verdict !== 'accept' && data.reply.decidedBy?.rule ? [data.reply.decidedBy.rule] : []),
  ];
  const passes = data.forward.verdict === 'accept' && (data.reply === undefined || data.reply.verdict === 'accept');
  return { probe: 'firewall', ok: passes, summary, raw, durationMs, data };
}
