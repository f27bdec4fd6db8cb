import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CounterSnapshot } from './counter-snapshot.ts';
import { decideFromCounters, type KernelAnswer } from './decide-from-counters.ts';
import { createLab, destroyLab, type Lab } from './create-lab.ts';
import { startReplyCapture, type ObservedReply, type ReplyCapture } from './start-reply-capture.ts';
import { startPacketSender, type PacketSender, type ProbePacket } from './start-packet-sender.ts';
import { parseIptablesCounters } from './parse-iptables-counters.ts';
import { parseNftCounters } from './parse-nft-counters.ts';
import { inNetns, runCommand } from './run-command.ts';
import { canonicalIp6 } from './ipv6.ts';
import { LISTEN_PORTS } from './lab-topology.ts';
import { startLineProcess, type LineProcess } from './line-process.ts';

export type Backend = 'iptables-legacy' | 'iptables-nft' | 'nft';

/** What the kernel did with one probe: counters say who decided, the capture says what went out. */
export interface ProbeAnswer extends KernelAnswer {
  /** Frames the firewall sent back to the probe's source (REJECT's RST/ICMP, the stack's own RST, …). */
  replies: ObservedReply[];
  /**
   * How the firewall's own answer fared in OUTPUT/POSTROUTING, for the probes whose answer the
   * analyzer also simulates: an accepted echo request (echo reply) or SYN to a listening port
   * (SYN-ACK). Absent otherwise, or when no output chain can observe it.
   */
  reply?: KernelAnswer;
}

export type IpFamily = 'ipv4' | 'ipv6';

export interface LoadedRuleset {
  backend: Backend;
  /** For the iptables backends: iptables or ip6tables. Native nft scripts carry their own families. */
  family: IpFamily;
  /** What the kernel holds, read back: `iptables-save -c` text, or `nft -j list ruleset` JSON. Feed this to the analyzer. */
  readback: string;
}

/** One ruleset per backend, active at the same time (e.g. legacy iptables under a native nft firewall). */
export interface RulesetPart { backend: Backend; text: string; family?: IpFamily }

/**
 * The real kernel as a ruleset oracle: load a ruleset into the silent firewall namespace, send
 * one spoofed packet at a time, and name the rule that decided from per-rule counter deltas.
 */
export class KernelOracle {
  private snapshot: CounterSnapshot | undefined;
  private parts: Array<{ backend: Backend; family: IpFamily }> = [];
  /** Legacy tables, once registered, stay until the namespace dies; these must be reset before each load. */
  private readonly legacyTables: Record<IpFamily, Set<string>> = { ipv4: new Set(), ipv6: new Set() };
  private readonly workDir = mkdtempSync(join(tmpdir(), 'wb-diff-'));
  private readonly recentSyns = new Map<string, number>();

  private constructor(readonly lab: Lab, private readonly sender: PacketSender, private readonly capture: ReplyCapture, private readonly listener: LineProcess) {}

  static async start(tag: string): Promise<KernelOracle> {
    const lab = await createLab(tag);
    try {
      // No SYN-ACK retransmits: a request socket's later SYN-ACKs would cross OUTPUT during other probes.
      await runCommand(inNetns(lab.fw, ['sysctl', '-q', '-w', 'net.ipv4.tcp_synack_retries=0']));
      const listener = startLineProcess(inNetns(lab.fw, ['python3', '-u', '-c', LISTENER, ...LISTEN_PORTS.map(String)]));
      const banner = await listener.nextLine();
      if (banner !== 'ready') throw new Error(`listener did not start: ${banner}`);
      return new KernelOracle(lab, startPacketSender(lab), await startReplyCapture(lab), listener);
    } catch (error) {
      await destroyLab(lab);
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.sender.close().catch(() => undefined);
    await this.capture.close().catch(() => undefined);
    await this.listener.close().catch(() => undefined);
    await destroyLab(this.lab);
    rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Backends whose userspace tools exist on this machine. */
  static async availableBackends(): Promise<Backend[]> {
    const has = async (tool: string): Promise<boolean> => (await runCommand(['sh', '-c', 'command -v "$1"', 'has', tool], { allowFail: true })).code === 0;
    const out: Backend[] = [];
    if (await has('iptables-legacy-restore')) out.push('iptables-legacy');
    if (await has('iptables-nft-restore')) out.push('iptables-nft');
    if (await has('nft')) out.push('nft');
    return out;
  }

  /**
   * Replaces whatever either backend holds with `text` (iptables-save text, or an `nft -f` script).
   * Legacy tables cannot be unregistered, so they are reset to empty chains with ACCEPT policies,
   * which decide nothing; `nft flush ruleset` removes native and iptables-nft tables alike.
   */
  async load(backend: Backend, text: string, family: IpFamily = 'ipv4'): Promise<LoadedRuleset> {
    return (await this.loadMany([{ backend, text, family }]))[0] as LoadedRuleset;
  }

  /**
   * Loads several backends at once. iptables-nft and native nft cannot be combined here (both live in
   * `nft list ruleset`, so their counters would be read twice).
   */
  async loadMany(parts: readonly RulesetPart[]): Promise<LoadedRuleset[]> {
    const backends = parts.map((p) => p.backend);
    if (new Set(backends).size !== backends.length || (backends.includes('nft') && backends.includes('iptables-nft'))) {
      throw new Error(`cannot load ${backends.join(' + ')} together`);
    }
    const resetFiles = (['ipv4', 'ipv6'] as const).map((family) => {
      const tables = this.legacyTables[family];
      if (tables.size === 0) return '';
      const file = join(this.workDir, `legacy-reset-${family}.rules`);
      writeFileSync(file, [...tables].map((t) => `*${t}\n${(LEGACY_BUILTINS[t] ?? []).map((c) => `:${c} ACCEPT [0:0]`).join('\n')}\nCOMMIT\n`).join(''));
      return file;
    });
    const loadArgs = parts.flatMap((part, index) => {
      const file = join(this.workDir, `ruleset-${index}.rules`);
      writeFileSync(file, part.text);
      return [part.family === 'ipv6' && part.backend !== 'nft' ? `${part.backend}6` : part.backend, file];
    });
    await runCommand(inNetns(this.lab.fw, ['sh', '-c', CLEAR_THEN_LOAD, 'load', ...resetFiles, ...loadArgs]));
    for (const part of parts) {
      if (part.backend === 'iptables-legacy') for (const [, table] of part.text.matchAll(/^\*(\S+)/gm)) this.legacyTables[part.family ?? 'ipv4'].add(table as string);
    }
    this.parts = parts.map((p) => ({ backend: p.backend, family: p.family ?? 'ipv4' }));
    const dumps = await this.dumpAll();
    this.snapshot = mergeSnapshots(dumps.map((d) => d.snapshot));
    return dumps.map((d, i) => ({ ...(this.parts[i] as { backend: Backend; family: IpFamily }), readback: d.text }));
  }

  /** Sends one packet into a conntrack table emptied beforehand, and reads which rule decided. */
  async probe(packet: ProbePacket): Promise<ProbeAnswer> {
    if (this.snapshot === undefined) throw new Error('probe() before load()');
    await this.capture.drain();
    await this.sender.send(packet);
    const before = this.snapshot;
    let after = await this.readCounters();
    let answer = decideFromCounters(before, after);
    // Counters are dumped while the veth backlog may still be processing the frame (softirq runs
    // asynchronously, late under load): a half-counted packet would leak into the next probe.
    for (let attempt = 0; attempt < SETTLE_ATTEMPTS; attempt++) {
      if (answer.complete && !answer.needsSettle) break;
      await sleep(SETTLE_STEP_MS);
      const again = await this.readCounters();
      const settled = sameCounters(after, again);
      after = again;
      answer = decideFromCounters(before, after);
      if (answer.complete && settled) break;
    }
    if (!answer.complete) {
      this.snapshot = after;
      throw new Error(`packet never fully counted after ${SETTLE_ATTEMPTS * SETTLE_STEP_MS} ms (reached: ${answer.path.map((p) => `${p.table} ${p.chain}`).join(', ') || 'nothing'})`);
    }
    let reply: KernelAnswer | undefined;
    const observable = after.chains.some((c) => c.hook === 'output' && c.type !== 'nat' && (c.policyPackets !== undefined || c.rules.some((r) => r.marker === 'entry')));
    if (observable && answersItself(packet, answer) && !this.repeatsRecentSyn(packet)) {
      // The answer is sent from the same softirq that delivered the probe, possibly after the dump.
      reply = decideFromCounters(before, after, REPLY_HOOKS);
      for (let attempt = 0; attempt < SETTLE_ATTEMPTS && !(reply.complete && !reply.needsSettle); attempt++) {
        await sleep(SETTLE_STEP_MS);
        const again = await this.readCounters();
        const settled = sameCounters(after, again);
        after = again;
        reply = decideFromCounters(before, after, REPLY_HOOKS);
        if (reply.complete && settled) break;
      }
      if (!reply.complete) throw new Error(`the firewall's answer never crossed OUTPUT within ${SETTLE_ATTEMPTS * SETTLE_STEP_MS} ms`);
    }
    this.snapshot = after;
    // Replies are handed to the capture synchronously when sent, i.e. before the counters settled.
    const sameAddress = (a: string, b: string): boolean => (a.includes(':') && b.includes(':') ? canonicalIp6(a) === canonicalIp6(b) : a === b);
    const replies = (await this.capture.drain()).filter((r) => sameAddress(r.dst, packet.src));
    return reply === undefined ? { ...answer, replies } : { ...answer, replies, reply };
  }

  /**
   * A SYN repeating a 4-tuple whose request socket still exists (it lives ~1 s without SYN-ACK
   * retransmits) is answered only subject to tcp_invalid_ratelimit, so maybe not at all.
   */
  private repeatsRecentSyn(packet: ProbePacket): boolean {
    if (packet.proto !== 'tcp') return false;
    const key = `${packet.src} ${packet.sport ?? ''} ${packet.dst} ${packet.dport ?? ''}`;
    const now = Date.now();
    const last = this.recentSyns.get(key);
    this.recentSyns.set(key, now);
    return last !== undefined && now - last < RECENT_SYN_MS;
  }

  private async readCounters(): Promise<CounterSnapshot> {
    return mergeSnapshots((await this.dumpAll()).map((d) => d.snapshot));
  }

  private async dumpAll(): Promise<Array<{ text: string; snapshot: CounterSnapshot }>> {
    if (this.parts.length === 0) throw new Error('no ruleset loaded');
    const out: Array<{ text: string; snapshot: CounterSnapshot }> = [];
    for (const part of this.parts) out.push(await this.dumpCounters(part.backend, part.family));
    return out;
  }

  /**
   * Dumps counters and then empties conntrack in one process start (the per-probe cost is mostly
   * process starts), so the next packet is again the first of its flow with a predictable state.
   */
  private async dumpCounters(backend: Backend, family: IpFamily): Promise<{ text: string; snapshot: CounterSnapshot }> {
    const dump = (argv: string[]): Promise<string> => runCommand(inNetns(this.lab.fw, ['sh', '-c', DUMP_THEN_FLUSH, 'dump', ...argv])).then((r) => r.stdout);
    const ip = family === 'ipv6' ? 'ip6tables' : 'iptables';
    switch (backend) {
      case 'iptables-legacy': { const text = await dump([`${ip}-legacy-save`, '-c']); return { text, snapshot: parseIptablesCounters(text, backend) }; }
      case 'iptables-nft': { const text = await dump([`${ip}-nft-save`, '-c']); return { text, snapshot: parseIptablesCounters(text, backend) }; }
      case 'nft': { const text = await dump(['nft', '-j', 'list', 'ruleset']); return { text, snapshot: parseNftCounters(text) }; }
    }
  }
}

const REPLY_HOOKS = ['output', 'postrouting'];
const RECENT_SYN_MS = 5000;

/** Probes the stack answers with a packet the analyzer's reply simulation describes exactly. */
function answersItself(packet: ProbePacket, answer: KernelAnswer): boolean {
  if (answer.verdict !== 'accept' || answer.route !== 'local') return false;
  if (packet.proto === 'icmp') return packet.icmpType === 8;
  if (packet.proto === 'icmpv6') return packet.icmpType === 128;
  return packet.proto === 'tcp' && (packet.tcpFlags ?? ['SYN']).join(',') === 'SYN' && packet.dport !== undefined && LISTEN_PORTS.includes(packet.dport);
}

/** Listens (never accepts: handshakes cannot complete anyway) until stdin closes. */
const LISTENER = [
  'import socket, sys',
  'socks = []',
  'for port in sys.argv[1:]:',
  '    for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):',
  '        s = socket.socket(fam, socket.SOCK_STREAM)',
  '        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
  '        if fam == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)',
  '        s.bind((addr, int(port)))',
  '        s.listen(4096)',
  '        socks.append(s)',
  'print("ready", flush=True)',
  'sys.stdin.read()',
].join('\n');

const SETTLE_ATTEMPTS = 40;
const SETTLE_STEP_MS = 50;

/** Fixed scripts; file names and commands arrive as positional arguments, never interpolated. */
const DUMP_THEN_FLUSH = '"$@"; status=$?; conntrack -F >/dev/null 2>&1; exit $status';
const CLEAR_THEN_LOAD = [
  'set -e',
  'if [ -n "$1" ]; then iptables-legacy-restore "$1"; fi',
  'if [ -n "$2" ]; then ip6tables-legacy-restore "$2"; fi',
  'nft flush ruleset',
  'conntrack -F >/dev/null 2>&1 || true',
  'shift 2',
  'while [ $# -gt 0 ]; do',
  '  case "$1" in',
  '    iptables-legacy) iptables-legacy-restore "$2";; iptables-nft) iptables-nft-restore "$2";;',
  '    iptables-legacy6) ip6tables-legacy-restore "$2";; iptables-nft6) ip6tables-nft-restore "$2";;',
  '    nft) nft -f "$2";; *) exit 64;;',
  '  esac',
  '  shift 2',
  'done',
].join('\n');

const LEGACY_BUILTINS: Record<string, string[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

function sameCounters(a: CounterSnapshot, b: CounterSnapshot): boolean {
  const flat = (s: CounterSnapshot): string => s.chains.map((c) => `${c.policyPackets ?? ''}:${c.rules.map((r) => r.packets).join(',')}`).join('|');
  return flat(a) === flat(b);
}

function mergeSnapshots(snapshots: CounterSnapshot[]): CounterSnapshot {
  return { chains: snapshots.flatMap((s) => s.chains) };
}
