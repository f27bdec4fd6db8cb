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

export type Backend = 'iptables-legacy' | 'iptables-nft' | 'nft';

/** What the kernel did with one probe: counters say who decided, the capture says what went out. */
export interface ProbeAnswer extends KernelAnswer {
  /** Frames the firewall sent back to the probe's source (REJECT's RST/ICMP, the stack's own RST, …). */
  replies: ObservedReply[];
}

export interface LoadedRuleset {
  backend: Backend;
  /** What the kernel holds, read back: `iptables-save -c` text, or `nft -j list ruleset` JSON. Feed this to the analyzer. */
  readback: string;
}

/** One ruleset per backend, active at the same time (e.g. legacy iptables under a native nft firewall). */
export interface RulesetPart { backend: Backend; text: string }

/**
 * The real kernel as a ruleset oracle: load a ruleset into the silent firewall namespace, send
 * one spoofed packet at a time, and name the rule that decided from per-rule counter deltas.
 */
export class KernelOracle {
  private snapshot: CounterSnapshot | undefined;
  private backends: Backend[] = [];
  /** Legacy tables, once registered, stay until the namespace dies; these must be reset before each load. */
  private readonly legacyTables = new Set<string>();
  private readonly workDir = mkdtempSync(join(tmpdir(), 'wb-diff-'));

  private constructor(readonly lab: Lab, private readonly sender: PacketSender, private readonly capture: ReplyCapture) {}

  static async start(tag: string): Promise<KernelOracle> {
    const lab = await createLab(tag);
    try {
      return new KernelOracle(lab, startPacketSender(lab), await startReplyCapture(lab));
    } catch (error) {
      await destroyLab(lab);
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.sender.close().catch(() => undefined);
    await this.capture.close().catch(() => undefined);
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
  async load(backend: Backend, text: string): Promise<LoadedRuleset> {
    return (await this.loadMany([{ backend, text }]))[0] as LoadedRuleset;
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
    const resetFile = join(this.workDir, 'legacy-reset.rules');
    writeFileSync(resetFile, [...this.legacyTables].map((t) => `*${t}\n${(LEGACY_BUILTINS[t] ?? []).map((c) => `:${c} ACCEPT [0:0]`).join('\n')}\nCOMMIT\n`).join(''));
    const loadArgs = parts.flatMap((part, index) => {
      const file = join(this.workDir, `ruleset-${index}.rules`);
      writeFileSync(file, part.text);
      return [part.backend, file];
    });
    await runCommand(inNetns(this.lab.fw, ['sh', '-c', CLEAR_THEN_LOAD, 'load', this.legacyTables.size > 0 ? resetFile : '', ...loadArgs]));
    for (const part of parts) {
      if (part.backend === 'iptables-legacy') for (const [, table] of part.text.matchAll(/^\*(\S+)/gm)) this.legacyTables.add(table as string);
    }
    this.backends = backends;
    const dumps = await this.dumpAll();
    this.snapshot = mergeSnapshots(dumps.map((d) => d.snapshot));
    return dumps.map((d, i) => ({ backend: backends[i] as Backend, readback: d.text }));
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
    this.snapshot = after;
    if (!answer.complete) {
      throw new Error(`packet never fully counted after ${SETTLE_ATTEMPTS * SETTLE_STEP_MS} ms (reached: ${answer.path.map((p) => `${p.table} ${p.chain}`).join(', ') || 'nothing'})`);
    }
    // Replies are handed to the capture synchronously when sent, i.e. before the counters settled.
    const replies = (await this.capture.drain()).filter((r) => r.dst === packet.src);
    return { ...answer, replies };
  }

  private async readCounters(): Promise<CounterSnapshot> {
    return mergeSnapshots((await this.dumpAll()).map((d) => d.snapshot));
  }

  private async dumpAll(): Promise<Array<{ text: string; snapshot: CounterSnapshot }>> {
    if (this.backends.length === 0) throw new Error('no ruleset loaded');
    const out: Array<{ text: string; snapshot: CounterSnapshot }> = [];
    for (const backend of this.backends) out.push(await this.dumpCounters(backend));
    return out;
  }

  /**
   * Dumps counters and then empties conntrack in one process start (the per-probe cost is mostly
   * process starts), so the next packet is again the first of its flow with a predictable state.
   */
  private async dumpCounters(backend: Backend): Promise<{ text: string; snapshot: CounterSnapshot }> {
    const dump = (argv: string[]): Promise<string> => runCommand(inNetns(this.lab.fw, ['sh', '-c', DUMP_THEN_FLUSH, 'dump', ...argv])).then((r) => r.stdout);
    switch (backend) {
      case 'iptables-legacy': { const text = await dump(['iptables-legacy-save', '-c']); return { text, snapshot: parseIptablesCounters(text, backend) }; }
      case 'iptables-nft': { const text = await dump(['iptables-nft-save', '-c']); return { text, snapshot: parseIptablesCounters(text, backend) }; }
      case 'nft': { const text = await dump(['nft', '-j', 'list', 'ruleset']); return { text, snapshot: parseNftCounters(text) }; }
    }
  }
}

const SETTLE_ATTEMPTS = 40;
const SETTLE_STEP_MS = 50;

/** Fixed scripts; file names and commands arrive as positional arguments, never interpolated. */
const DUMP_THEN_FLUSH = '"$@"; status=$?; conntrack -F >/dev/null 2>&1; exit $status';
const CLEAR_THEN_LOAD = [
  'set -e',
  'if [ -n "$1" ]; then iptables-legacy-restore "$1"; fi',
  'nft flush ruleset',
  'conntrack -F >/dev/null 2>&1 || true',
  'shift',
  'while [ $# -gt 0 ]; do',
  '  case "$1" in iptables-legacy) iptables-legacy-restore "$2";; iptables-nft) iptables-nft-restore "$2";; nft) nft -f "$2";; *) exit 64;; esac',
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
