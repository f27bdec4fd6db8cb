import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  explainPacket, explainPackets, mergeRulesets, parseIpsetSave, parseNet, parseRuleset, protoName, type ExplainResult, type HostContext, type IpsetContents, type PacketInput, type Ruleset,
} from '../analyzer/index.ts';
import { ErrorCode, usageError, WhyBlockedError } from '../errors.ts';
import type { CliCommand, CliIo } from './cli-command.ts';

const usage = `Usage:
  why-blocked explain --ruleset FILE [--ruleset FILE ...] [--format auto|iptables-save|nft-json]
      --src IP --dst IP --proto tcp|udp|icmp|N [--dport N] [--sport N] [--in-iface IF]
      [--state NEW|ESTABLISHED|RELATED|INVALID|UNTRACKED] [--local-address IP ...]
      [--interface NAME=ADDR/LEN ...] [--route CIDR=IFACE ...] [--ipset FILE] [--json]
  why-blocked explain --ruleset FILE ... --packets FILE.jsonl [--json]

Simulates the packet through every ruleset given (iptables-save / ip6tables-save text or
\`nft -j list ruleset\` JSON; several files = several sources active at once) and names the rule that
decides, the rules it shadows, and what the client will see. --interface describes the host's
interfaces (routing after DNAT/REDIRECT, addrtype); --local-address adds host addresses.
--route adds the host's other routes (\`ip route\`; 0.0.0.0/0 or ::/0 is the default route): with
them, a forwarded packet and the host's own answer leave by the interface the longest matching
prefix names, which \`-o\`/\`oifname\` rules see. Without a route to the client, the answer is assumed
to leave by the interface the request came in on.
--ipset gives \`ipset save\` output taken with the ruleset, so \`-m set --match-set\` rules are judged
(without it they are unknown and both outcomes are shown).
--packets reads one JSON object per line, {"proto","src","dst","sport","dport","inIface","state"},
and prints one JSON result per line, in order.
Exit codes: 0 done, 2 bad arguments or unreadable ruleset.`;

const states = ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED'] as const;

function readFile(io: CliIo, file: string, what: string): string {
  try {
    return readFileSync(resolve(io.cwd, file), 'utf8');
  } catch (err) {
    throw usageError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function intArg(name: string, v: string | undefined, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > max) throw usageError(`--${name} must be a number 0-${max}, got "${v}"`);
  return Number(v);
}

function loadRulesets(io: CliIo, files: string[], format: string): Ruleset {
  if (files.length === 0) throw usageError('at least one --ruleset FILE is needed');
  if (!['auto', 'iptables-save', 'nft-json'].includes(format)) throw usageError(`--format must be auto, iptables-save or nft-json, not "${format}"`);
  return mergeRulesets(...files.map((f) => {
    const text = readFile(io, f, 'ruleset');
    try {
      return parseRuleset(text, { format: format as 'auto' });
    } catch (err) {
      if (err instanceof WhyBlockedError && err.code === ErrorCode.RulesetParse) {
        throw new WhyBlockedError(ErrorCode.RulesetParse, `${f}: ${err.message}`, { details: { ...err.details, file: f } });
      }
      throw err;
    }
  }));
}

function packetFromJson(line: string, lineNo: number): PacketInput {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw usageError(`--packets line ${lineNo} is not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw usageError(`--packets line ${lineNo} must be a JSON object`);
  const o = v as Record<string, unknown>;
  const p: PacketInput = { proto: o.proto as string, src: o.src as string, dst: o.dst as string };
  for (const k of ['sport', 'dport', 'icmpType', 'icmpCode', 'mark'] as const) if (o[k] !== undefined) p[k] = o[k] as number;
  if (o.inIface !== undefined) p.inIface = String(o.inIface);
  if (o.state !== undefined) p.state = o.state as PacketInput['state'];
  if (Array.isArray(o.tcpFlags)) p.tcpFlags = o.tcpFlags.map(String);
  return p;
}

function loadIpsets(io: CliIo, file: string): IpsetContents {
  const text = readFile(io, file, 'ipset file');
  try {
    return parseIpsetSave(text);
  } catch (err) {
    if (err instanceof WhyBlockedError && err.code === ErrorCode.RulesetParse) {
      throw new WhyBlockedError(ErrorCode.RulesetParse, `${file}: ${err.message}`, { details: { ...err.details, file } });
    }
    throw err;
  }
}

function hostContext(localAddresses: string[], interfaces: string[], routes: string[]): HostContext | undefined {
  const ctx: HostContext = {};
  if (localAddresses.length > 0) ctx.localAddresses = localAddresses;
  const byName = new Map<string, string[]>();
  for (const spec of interfaces) {
    const m = /^([^=\s/]{1,15})=(\S+\/\d+)$/.exec(spec);
    if (!m) throw usageError(`--interface must look like eth0=192.0.2.1/24, got "${spec}"`);
    byName.set(m[1] as string, [...(byName.get(m[1] as string) ?? []), m[2] as string]);
  }
  if (byName.size > 0) ctx.interfaces = [...byName].map(([name, addresses]) => ({ name, addresses }));
  for (const spec of routes) {
    const m = /^([^=\s]+\/\d{1,3})=([^=\s/]{1,15})$/.exec(spec);
    const dst = m?.[1];
    if (m === null || dst === undefined || parseNet(dst) === undefined) throw usageError(`--route must look like 0.0.0.0/0=eth0 or 2001:db8::/32=wg0, got "${spec}"`);
    (ctx.routes ??= []).push({ dst, iface: m[2] as string });
  }
  return ctx.localAddresses || ctx.interfaces || ctx.routes ? ctx : undefined;
}

function where(d: ExplainResult['decidedBy']): string {
  const at = d.position !== undefined ? `rule ${d.position}` : `policy ${(d.policy ?? '?').toUpperCase()}`;
  return `${d.source} ${d.table} ${d.chain} ${at}${d.rule ? `: ${d.rule}` : ''}`;
}

/** Human output: the decider first, then what the client sees, then the trace. */
export function renderExplanation(r: ExplainResult): string {
  const out: string[] = [];
  const p = r.packet;
  out.push(`${String(p.src)}${p.sport !== undefined ? `:${String(p.sport)}` : ''} -> ${String(p.dst)}${p.dport !== undefined ? `:${String(p.dport)}` : ''} (${protoName(Number(p.proto))}, ${String(p.state)})`);
  out.push(`VERDICT: ${r.verdict.toUpperCase()}${r.rejectWith ? ` (${r.rejectWith})` : ''}`);
  out.push(`${r.verdict === 'unknown' ? 'Depends on' : 'Decided by'}: ${where(r.decidedBy)}`);
  if (r.path === 'forward') out.push(`Path: routed through FORWARD${r.translated ? ` to ${String(r.translated.dst)}:${String(r.translated.dport ?? '')}` : ''}`);
  else if (r.translated) out.push(`NAT: delivered to ${String(r.translated.dst)}:${String(r.translated.dport ?? '')}`);
  if (r.chainVerdicts.length > 1) {
    for (const c of r.chainVerdicts) out.push(`  ${c.hook ?? ''} ${c.verdict.toUpperCase()} by ${where(c)}`);
  }
  for (const s of r.shadowed) out.push(`Shadowed: ${where(s)} would have accepted it`);
  for (const u of r.unknowns) {
    const outcomes = u.ifMatches && u.ifNotMatches ? ` (if it matches: ${u.ifMatches.verdict}; if not: ${u.ifNotMatches.verdict})` : '';
    out.push(`Unknown: ${where(u)}: ${u.reasons.join('; ')}${outcomes}`);
  }
  out.push(`Client sees: ${r.symptom.client}`);
  out.push(`tcpdump on the server: ${r.symptom.tcpdump.split('\n').join('\n                       ')}`);
  if (r.reply) {
    const via = typeof r.reply.packet.outIface === 'string' ? ` (leaves by ${r.reply.packet.outIface})` : '';
    out.push(`Reply${via}: ${r.reply.verdict.toUpperCase()}${r.reply.rejectWith ? ` (${r.reply.rejectWith})` : ''} by ${where(r.reply.decidedBy)}`);
  }
  for (const w of r.warnings) out.push(`Warning: ${w}`);
  out.push('', 'Trace:');
  for (const t of [...r.trace, ...(r.reply?.trace ?? [])]) {
    const id = t.position !== undefined ? `#${t.position}` : 'policy';
    const res = t.matched === true ? 'match' : t.matched === false ? 'no' : '???';
    out.push(`  ${t.direction === 'reply' ? 'reply ' : ''}${t.hook} ${t.table}/${t.chain} ${id} [${res}] ${t.rule ?? ''}${t.effect ? ` => ${t.effect}` : ''}${t.reason ? ` -- ${t.reason}` : ''}`);
  }
  return `${out.join('\n')}\n`;
}

async function run(args: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args, strict: true, allowPositionals: false,
      options: {
        ruleset: { type: 'string', multiple: true, default: [] }, format: { type: 'string', default: 'auto' },
        src: { type: 'string' }, dst: { type: 'string' }, proto: { type: 'string' }, dport: { type: 'string' }, sport: { type: 'string' },
        'in-iface': { type: 'string' }, state: { type: 'string' }, 'local-address': { type: 'string', multiple: true, default: [] },
        interface: { type: 'string', multiple: true, default: [] }, route: { type: 'string', multiple: true, default: [] },
        ipset: { type: 'string' },
        packets: { type: 'string' }, json: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    throw usageError((err as Error).message);
  }
  const v = parsed.values;
  let ctx = hostContext(v['local-address'], v.interface, v.route);
  const ruleset = loadRulesets(io, v.ruleset, v.format);
  if (v.ipset !== undefined) ctx = { ...ctx, ipsets: loadIpsets(io, v.ipset) };

  if (v.packets !== undefined) {
    for (const k of ['src', 'dst', 'proto', 'dport', 'sport', 'in-iface', 'state'] as const) {
      if (v[k] !== undefined) throw usageError(`--${k} cannot be combined with --packets (put it in the JSONL lines)`);
    }
    const lines = readFile(io, v.packets, 'packets file').split('\n');
    const inputs: PacketInput[] = [];
    lines.forEach((line, i) => { if (line.trim() !== '') inputs.push(packetFromJson(line, i + 1)); });
    if (inputs.length === 0) throw usageError(`${v.packets} has no packets`);
    // One output line per input line, in order; a bad packet becomes an error line, not a lost line.
    let failed = 0;
    for (const input of inputs) {
      try {
        const [r] = explainPackets(ruleset, [input], ctx);
        io.stdout.write(`${JSON.stringify(r)}\n`);
      } catch (err) {
        if (!(err instanceof WhyBlockedError)) throw err;
        failed++;
        io.stdout.write(`${JSON.stringify({ error: err.message, code: err.code, input })}\n`);
      }
    }
    if (failed > 0) io.stderr.write(`why-blocked explain: ${failed} of ${inputs.length} packets were invalid (see the "error" lines)\n`);
    return failed > 0 ? 2 : 0;
  }

  if (v.src === undefined || v.dst === undefined || v.proto === undefined) throw usageError('--src, --dst and --proto are required (or use --packets FILE.jsonl)');
  const proto = /^\d+$/.test(v.proto) ? intArg('proto', v.proto, 255) as number : v.proto;
  const input: PacketInput = { proto, src: v.src, dst: v.dst };
  const dport = intArg('dport', v.dport, 65535);
  const sport = intArg('sport', v.sport, 65535);
  if (dport !== undefined) input.dport = dport;
  if (sport !== undefined) input.sport = sport;
  if (v['in-iface'] !== undefined) input.inIface = v['in-iface'];
  if (v.state !== undefined) {
    const s = v.state.toUpperCase();
    if (!(states as readonly string[]).includes(s)) throw usageError(`--state must be one of ${states.join(', ')}`);
    input.state = s as PacketInput['state'];
  }
  const result = explainPacket(ruleset, input, ctx);
  io.stdout.write(v.json ? `${JSON.stringify(result, null, 2)}\n` : renderExplanation(result));
  return 0;
}

export const explainCommand: CliCommand = {
  name: 'explain',
  summary: 'Explain which firewall rule decides a packet, offline, from saved rulesets',
  usage,
  run,
};
