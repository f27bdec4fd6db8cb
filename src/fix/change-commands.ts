import { createHash } from 'node:crypto';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { RemoteCommand } from '../remote/remote-command.ts';

/** The restore tool family a fix is loaded with; also the helper's backend argument. */
export type ChangeBackend = 'iptables-legacy' | 'iptables-nft' | 'ip6tables-legacy' | 'ip6tables-nft' | 'nft';
export type DeadmanMode = 'auto' | 'setsid' | 'systemd';

export const defaultHelperPath = '/usr/local/libexec/why-blocked/why-blocked-change';
/** Fits the remote layer's 4096-character argument limit with room for the other arguments. */
export const stageChunkChars = 3000;
const maxChunks = 9999;

const proposalIdPattern = /^prop-[a-f0-9]{1,64}$/;
const helperPathPattern = /^\/[A-Za-z0-9_./-]+$/;

function requireProposalId(id: string): string {
  if (!proposalIdPattern.test(id)) throw new WhyBlockedError(ErrorCode.UnsafeArgument, `"${id}" is not a proposal id (prop-<hex>).`);
  return id;
}

function requireHelper(path: string): string {
  if (!helperPathPattern.test(path) || path.includes('..')) {
    throw new WhyBlockedError(ErrorCode.UnsafeArgument, `The change helper path "${path}" must be absolute and plain; set WHY_BLOCKED_CHANGE_HELPER.`);
  }
  return path;
}

/**
 * Which backend a stored fix targets: nft batches are JSON; iptables fixes name their tool in
 * their commands (`iptables-legacy -I …`). A bare `iptables` means whatever variant the host runs.
 */
export function backendOfFix(fix: { commands: string[]; rulesetAfter: string }, iptablesVariant?: 'legacy' | 'nf_tables'): ChangeBackend {
  if (fix.rulesetAfter.trimStart().startsWith('{')) return 'nft';
  const tool = /^(ip6?tables)(?:-(legacy|nft))?\s/.exec(fix.commands[0] ?? '');
  if (!tool) {
    throw new WhyBlockedError(ErrorCode.ApplyFailed, 'The proposal names no iptables tool in its commands, so its backend is unknown; run the triage again.');
  }
  const variant = tool[2] ?? (iptablesVariant === 'nf_tables' ? 'nft' : 'legacy');
  return `${tool[1]}-${variant}` as ChangeBackend;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export interface ChangeCommandOptions {
  helperPath?: string;
}

/** Fixed templates for the root-owned helper (deploy/host/why-blocked-change); argv is data only. */
export function changeCommands(options: ChangeCommandOptions = {}) {
  const helper = requireHelper(options.helperPath ?? defaultHelperPath);
  const cmd = (args: string[], timeoutMs = 15_000): RemoteCommand => ({ argv: [helper, ...args], sudo: true, timeoutMs, maxOutputBytes: 8 * 1024 * 1024 });
  return {
    /** The rule text in base64 chunks, then `apply` checks its checksum before loading it. */
    stage(proposalId: string, text: string): RemoteCommand[] {
      requireProposalId(proposalId);
      if (text.trim() === '') throw new WhyBlockedError(ErrorCode.ApplyFailed, 'The proposal has no rules to apply.');
      const b64 = Buffer.from(text, 'utf8').toString('base64');
      const chunks: string[] = [];
      for (let i = 0; i < b64.length; i += stageChunkChars) chunks.push(b64.slice(i, i + stageChunkChars));
      if (chunks.length > maxChunks) throw new WhyBlockedError(ErrorCode.UnsafeArgument, 'The ruleset is too large to stage.');
      return chunks.map((c, i) => cmd(['stage', proposalId, String(i), c]));
    },
    apply: (proposalId: string, backend: ChangeBackend, text: string): RemoteCommand =>
      cmd(['apply', requireProposalId(proposalId), backend, sha256Hex(text), ...(backend === 'nft' ? ['json'] : [])], 30_000),
    backup: (proposalId: string, backend: ChangeBackend): RemoteCommand => cmd(['backup', requireProposalId(proposalId), backend]),
    arm(proposalId: string, seconds: number, backend: ChangeBackend, mode: DeadmanMode = 'auto'): RemoteCommand {
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
        throw new WhyBlockedError(ErrorCode.UnsafeArgument, `The dead-man delay must be 1-3600 s, got ${String(seconds)}.`);
      }
      return cmd(['arm', requireProposalId(proposalId), String(seconds), backend, mode]);
    },
    disarm: (proposalId: string): RemoteCommand => cmd(['disarm', requireProposalId(proposalId)]),
    status: (proposalId: string): RemoteCommand => cmd(['status', requireProposalId(proposalId)]),
    restore: (proposalId: string, backend: ChangeBackend): RemoteCommand => cmd(['restore', requireProposalId(proposalId), backend], 30_000),
    persist: (backend: ChangeBackend, file: string): RemoteCommand => cmd(['persist', backend, requireSavedFile(backend, file)], 30_000),
  };
}
export type ChangeCommands = ReturnType<typeof changeCommands>;

const savedFiles: Record<ChangeBackend, readonly string[]> = {
  'iptables-legacy': ['/etc/sysconfig/iptables', '/etc/iptables/rules.v4'],
  'iptables-nft': ['/etc/sysconfig/iptables', '/etc/iptables/rules.v4'],
  'ip6tables-legacy': ['/etc/sysconfig/ip6tables', '/etc/iptables/rules.v6'],
  'ip6tables-nft': ['/etc/sysconfig/ip6tables', '/etc/iptables/rules.v6'],
  nft: ['/etc/nftables.conf', '/etc/sysconfig/nftables.conf'],
};

function requireSavedFile(backend: ChangeBackend, file: string): string {
  if (!savedFiles[backend].includes(file)) {
    throw new WhyBlockedError(ErrorCode.UnsafeArgument, `${file} is not a boot-time rules file for ${backend}; expected one of ${savedFiles[backend].join(', ')}.`);
  }
  return file;
}

/**
 * The file the host loads at boot for this backend: an existing one wins (RHEL's sysconfig vs
 * Debian's iptables-persistent), else the distro's convention.
 */
export function savedFileFor(backend: ChangeBackend, existing: string[], distro: 'rhel' | 'debian' | 'unknown'): string {
  const candidates = savedFiles[backend];
  const found = candidates.find((f) => existing.includes(f));
  if (found) return found;
  if (backend === 'nft') return distro === 'rhel' ? '/etc/sysconfig/nftables.conf' : '/etc/nftables.conf';
  return distro === 'debian' ? candidates[1]! : candidates[0]!;
}
