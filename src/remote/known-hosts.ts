import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ErrorCode, WhyBlockedError } from '../errors.ts';

/** A host public key as ssh2 hands it to `hostVerifier`: the raw wire blob. */
export interface HostPublicKey {
  type: string;
  blob: Buffer;
}

export interface KnownHostEntry extends HostPublicKey {
  /** The host-pattern field, verbatim (plain list or one `|1|salt|hash`). */
  hosts: string;
  marker?: 'revoked';
  /** 1-based line in the file, for messages. */
  line: number;
}

export interface ParsedKnownHosts {
  entries: KnownHostEntry[];
  /** Lines that were skipped, phrased for the operator. */
  warnings: string[];
}

/** Reads the length-prefixed key type that starts every SSH public key blob. */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's fingerprint format, as printed by `ssh-keygen -lf` and in ssh's own warnings. */
export function fingerprintSha256(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Parses `type base64 [comment]`; returns an error string instead of throwing so callers choose. */
function parseKeyFields(type: string | undefined, base64: string | undefined): HostPublicKey | string {
  if (!type || !base64) return 'expected "<key type> <base64 key>"';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return 'the key is not valid base64';
  const blob = Buffer.from(base64, 'base64');
  const embedded = keyTypeOfBlob(blob);
  if (embedded === undefined) return 'the key data is not an SSH public key';
  if (embedded !== type) return `the key data is a ${embedded} key but the line says ${type}`;
  return { type, blob };
}

/** A pinned key from the inventory: `ssh-ed25519 AAAA… [comment]`. */
export function parsePinnedKey(text: string): HostPublicKey {
  const [type, base64] = text.trim().split(/\s+/);
  const parsed = parseKeyFields(type, base64);
  if (typeof parsed === 'string') {
    throw new WhyBlockedError(ErrorCode.ConfigInvalid,
      `Pinned host key "${text.slice(0, 40)}…" is invalid: ${parsed}. Paste one line of \`ssh-keyscan\` output without the host name.`);
  }
  return parsed;
}

/** Parses known_hosts text. Bad or unsupported lines are skipped with a warning, as ssh does. */
export function parseKnownHosts(text: string, source = 'known_hosts'): ParsedKnownHosts {
  const entries: KnownHostEntry[] = [];
  const warnings: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const fields = trimmed.split(/\s+/);
    let marker: 'revoked' | undefined;
    if (fields[0]!.startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@cert-authority') {
        warnings.push(`${source}:${line}: @cert-authority entries are not supported and were ignored; pin the host keys themselves.`);
        return;
      }
      if (m !== '@revoked') {
        warnings.push(`${source}:${line}: unknown marker ${m}; line ignored.`);
        return;
      }
      marker = 'revoked';
    }
    const [hosts, type, base64] = fields;
    const parsed = parseKeyFields(type, base64);
    if (!hosts || typeof parsed === 'string') {
      warnings.push(`${source}:${line}: ${typeof parsed === 'string' ? parsed : 'no host field'}; line ignored.`);
      return;
    }
    entries.push({ hosts, ...parsed, line, ...(marker ? { marker } : {}) });
  });
  return { entries, warnings };
}

/** The name ssh looks up: bare host on port 22, `[host]:port` otherwise (OpenSSH put_host_port). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

function hashedMatches(field: string, name: string): boolean {
  const [, , salt, hash] = field.split('|');
  if (!salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * OpenSSH semantics: a hashed field is one name; a plain field is a comma list of glob patterns,
 * where a matching `!pattern` vetoes the whole line.
 */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) return hashedMatches(field, name);
  let matched = false;
  for (const pattern of field.split(',')) {
    if (pattern === '') continue;
    const negated = pattern.startsWith('!');
    const re = globToRegExp(negated ? pattern.slice(1) : pattern);
    if (re.test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export interface HostKeyPolicyInput {
  /** Address or name the connection goes to; also the name shown in errors. */
  host: string;
  port: number;
  /** Other names the same machine is known by (inventory name, aliases); looked up as well. */
  aliases?: string[];
  /** known_hosts file contents. */
  knownHosts?: string;
  /** Where knownHosts came from, for messages. */
  knownHostsPath?: string;
  /** Pinned keys, `ssh-ed25519 AAAA…` form. */
  pinned?: string[];
}

export interface HostKeyPolicy {
  host: string;
  port: number;
  names: string[];
  trusted: HostPublicKey[];
  revoked: HostPublicKey[];
  warnings: string[];
  sources: string[];
}

/** Collects the keys trusted and revoked for this host from every configured source. */
export function buildHostKeyPolicy(input: HostKeyPolicyInput): HostKeyPolicy {
  const names = [...new Set([input.host, ...(input.aliases ?? [])].map((n) => knownHostsName(n, input.port)))];
  const trusted: HostPublicKey[] = (input.pinned ?? []).map(parsePinnedKey);
  const revoked: HostPublicKey[] = [];
  const sources: string[] = [];
  if (trusted.length > 0) sources.push('the pinned keys (ssh.hostKeys)');
  const warnings: string[] = [];
  if (input.knownHosts !== undefined) {
    const path = input.knownHostsPath ?? 'known_hosts';
    sources.push(path);
    const parsed = parseKnownHosts(input.knownHosts, path);
    warnings.push(...parsed.warnings);
    for (const entry of parsed.entries) {
      if (!names.some((name) => hostFieldMatches(entry.hosts, name))) continue;
      (entry.marker === 'revoked' ? revoked : trusted).push({ type: entry.type, blob: entry.blob });
    }
  }
  return { host: input.host, port: input.port, names, trusted, revoked, warnings, sources };
}

export type HostKeyCheck =
  | { ok: true; fingerprint: string }
  | { ok: false; fingerprint: string; error: WhyBlockedError };

function hostKeyFileName(type: string): string {
  if (type === 'ssh-ed25519') return 'ed25519';
  if (type.startsWith('ecdsa-')) return 'ecdsa';
  if (type === 'ssh-rsa') return 'rsa';
  return '*';
}

function reviewAdvice(policy: HostKeyPolicy, type: string): string {
  const portFlag = policy.port === 22 ? '' : `-p ${policy.port} `;
  return `To review it: run \`ssh-keyscan ${portFlag}-t ${type} ${policy.host} | ssh-keygen -lf -\`, and compare the fingerprint `
    + `out of band with \`ssh-keygen -lf /etc/ssh/ssh_host_${hostKeyFileName(type)}_key.pub\` run on the host's console. `
    + 'Only if they match, add the key line to ssh.hostKeys in the inventory (or to its known_hosts file).';
}

/** Decides whether a presented host key is trusted. Never trusts by default. */
export function checkHostKey(policy: HostKeyPolicy, blob: Buffer): HostKeyCheck {
  const fingerprint = fingerprintSha256(blob);
  const type = keyTypeOfBlob(blob) ?? 'unknown';
  const label = knownHostsName(policy.host, policy.port);
  const details = { host: policy.host, port: policy.port, keyType: type, fingerprint };
  if (policy.revoked.some((k) => k.blob.equals(blob))) {
    return { ok: false, fingerprint, error: new WhyBlockedError(ErrorCode.SshHostKeyMismatch,
      `Host key for ${label} (${type} ${fingerprint}) is marked @revoked. No command was run. `
      + 'Find out why it was revoked before doing anything else; do not remove the @revoked line to get past this.',
      { details: { ...details, reason: 'revoked' } }) };
  }
  if (policy.trusted.some((k) => k.blob.equals(blob))) return { ok: true, fingerprint };
  if (policy.trusted.length === 0) {
    const where = policy.sources.length > 0 ? policy.sources.join(' or ') : 'any trust source (no ssh.hostKeys or ssh.knownHosts configured)';
    return { ok: false, fingerprint, error: new WhyBlockedError(ErrorCode.SshHostKeyUnknown,
      `Host key for ${label} is unknown: the server presented ${type} ${fingerprint}, which is not in ${where}. `
      + `No command was run. ${reviewAdvice(policy, type)}`,
      { details: { ...details, reason: 'unknown' } }) };
  }
  const expected = policy.trusted.map((k) => `${k.type} ${fingerprintSha256(k.blob)}`);
  return { ok: false, fingerprint, error: new WhyBlockedError(ErrorCode.SshHostKeyMismatch,
    `HOST KEY MISMATCH for ${label}: the server presented ${type} ${fingerprint}, but the trusted key(s) are ${expected.join(', ')}. `
    + 'The host may have been reinstalled, or someone may be intercepting the connection. No command was run. '
    + `${reviewAdvice(policy, type)} Replace the old key only after that check.`,
    { details: { ...details, reason: 'mismatch', expected } }) };
}

/**
 * A sync `hostVerifier` for ssh2 (raw key blob, no `hostHash`). Rejections are reported through
 * `onReject` because ssh2 turns a `false` into a generic "Host denied" error.
 */
export function createHostVerifier(
  input: HostKeyPolicyInput | HostKeyPolicy,
  onReject: (error: WhyBlockedError) => void = () => {},
): (key: Buffer) => boolean {
  const policy = 'trusted' in input ? input : buildHostKeyPolicy(input);
  return (key: Buffer) => {
    const result = checkHostKey(policy, key);
    if (!result.ok) onReject(result.error);
    return result.ok;
  };
}

// ssh2's own preference order; other types (sk-*, certificates, dss) cannot be verified here.
const offerable = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/**
 * ssh2's serverHostKey offer for the trusted key types, so that a host with several keys presents
 * one we can check instead of whichever type ssh2 prefers (what OpenSSH does with known_hosts).
 * Empty when nothing is trusted: then the default offer lets the error show the key seen.
 */
export function hostKeyAlgorithmsFor(keys: readonly HostPublicKey[]): string[] {
  const types = new Set(keys.map((k) => k.type));
  return offerable.filter((a) => types.has(a.startsWith('rsa-sha2-') ? 'ssh-rsa' : a));
}
