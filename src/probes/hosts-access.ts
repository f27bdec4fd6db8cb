import { isIP } from 'node:net';
import type { WrappersRuleRef } from '../triage/evidence-types.ts';

/**
 * A hosts_access(5) evaluator: first match in hosts.allow grants, else first match in hosts.deny
 * denies, else access is granted. Three-valued, because patterns that need DNS, ident or NIS
 * cannot be decided from an address alone; such a match makes the answer "unknown", never a guess.
 */

type Tri = true | false | 'unknown';

export interface HostsEntry {
  file: string;
  /** 1-based line where the entry starts (continuations joined). */
  line: number;
  text: string;
  daemons: string[];
  clients: string[];
  /** Debian's PROCESS_OPTIONS `: allow` / `: deny` override of the file's meaning. */
  option?: 'allow' | 'deny';
}

export interface AccessClient { address: string; hostname?: string }

export interface AccessDecision {
  decision: 'allow' | 'deny' | 'unknown';
  decidedBy?: WrappersRuleRef;
  flags: string[];
}

/** Splits at `sep` outside [...] (IPv6 patterns contain colons). */
function splitOutsideBrackets(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '[') depth++;
    else if (ch === ']') depth = Math.max(0, depth - 1);
    if (ch === sep && depth === 0) { parts.push(cur); cur = ''; } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

function listTokens(text: string): string[] {
  return text.split(/[\s,]+/).filter((t) => t !== '');
}

export function parseHostsFile(text: string, file: string, flags: string[] = []): HostsEntry[] {
  const entries: HostsEntry[] = [];
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    const start = i + 1;
    let joined = rows[i]!.replace(/\r$/, '');
    while (joined.endsWith('\\') && i + 1 < rows.length) {
      i++;
      joined = joined.slice(0, -1) + rows[i]!.replace(/\r$/, '');
    }
    const trimmed = joined.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const fields = splitOutsideBrackets(trimmed, ':');
    if (fields.length < 2) {
      flags.push(`${file}:${start}: no ':' separator, libwrap skips this line`);
      continue;
    }
    const entry: HostsEntry = { file, line: start, text: trimmed, daemons: listTokens(fields[0]!), clients: listTokens(fields[1]!) };
    const opts = fields.slice(2).map((f) => f.trim().toLowerCase());
    const verdict = opts.find((o) => o === 'allow' || o === 'deny');
    if (verdict === 'allow' || verdict === 'deny') {
      entry.option = verdict;
      flags.push(`${file}:${start}: "${verdict}" option (hosts_options(5), Debian builds only)`);
    }
    entries.push(entry);
  }
  return entries;
}

function or(values: Tri[]): Tri {
  if (values.includes(true)) return true;
  return values.includes('unknown') ? 'unknown' : false;
}
function and(a: Tri, b: Tri): Tri {
  if (a === false || b === false) return false;
  return a === true && b === true ? true : 'unknown';
}
function not(a: Tri): Tri {
  return a === 'unknown' ? 'unknown' : !a;
}

/** libwrap's list_match: items up to EXCEPT, and EXCEPT nests to the right. */
function listMatch(tokens: string[], match: (tok: string) => Tri): Tri {
  const at = tokens.findIndex((t) => t.toUpperCase() === 'EXCEPT');
  const head = at < 0 ? tokens : tokens.slice(0, at);
  const m = or(head.map(match));
  if (m === false || at < 0) return m;
  return and(m, not(listMatch(tokens.slice(at + 1), match)));
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

function v4ToInt(a: string): number | undefined {
  if (isIP(a) !== 4) return undefined;
  return a.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}

function v6ToBigInt(a: string): bigint | undefined {
  if (isIP(a) !== 6) return undefined;
  let text = a.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = v4ToInt(v4[1]!)!;
    text = text.slice(0, -v4[1]!.length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [left, right] = text.split('::') as [string, string | undefined];
  const l = left ? left.split(':') : [];
  const r = right ? right.split(':') : [];
  const groups = right === undefined ? l : [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

function matchClientToken(tok: string, client: AccessClient, flags: string[]): Tri {
  const upper = tok.toUpperCase();
  const host = client.hostname?.toLowerCase();
  const addr = client.address;
  const needName = (why: string): Tri => {
    flags.push(`"${tok}" needs ${why}; the client's name was not resolved`);
    return 'unknown';
  };
  switch (upper) {
    case 'ALL': return true;
    case 'LOCAL': return host !== undefined ? !host.includes('.') : needName('the client host name');
    case 'KNOWN': return host !== undefined ? true : needName('a reverse DNS lookup');
    case 'UNKNOWN': return host !== undefined ? false : needName('a reverse DNS lookup');
    case 'PARANOID': flags.push('"PARANOID" depends on forward/reverse DNS agreement'); return 'unknown';
    default: break;
  }
  if (tok.startsWith('@')) { flags.push(`"${tok}" is an NIS netgroup`); return 'unknown'; }
  if (tok.startsWith('/')) { flags.push(`"${tok}" is a file pattern (Fedora/openSUSE libwrap only)`); return 'unknown'; }
  if (tok.includes('@')) { flags.push(`"${tok}" needs the ident (RFC 931) user name`); return 'unknown'; }
  const v6 = /^\[([0-9a-fA-F:.]+)\](?:\/(\d+))?$/.exec(tok);
  if (v6) {
    const want = v6ToBigInt(v6[1]!);
    const have = v6ToBigInt(addr);
    if (want === undefined || have === undefined) return false;
    const plen = v6[2] === undefined ? 128 : Number(v6[2]);
    const mask = plen === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - plen)) - 1n);
    return (want & mask) === (have & mask);
  }
  const netmask = /^(\d+\.\d+\.\d+\.\d+)\/(\d+\.\d+\.\d+\.\d+)$/.exec(tok);
  if (netmask) {
    const net = v4ToInt(netmask[1]!); const mask = v4ToInt(netmask[2]!); const a = v4ToInt(addr);
    if (net === undefined || mask === undefined || a === undefined) return false;
    return ((a & mask) >>> 0) === ((net & mask) >>> 0);
  }
  const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(tok);
  if (cidr) {
    flags.push(`"${tok}": n.n.n.n/len is accepted by Debian's libwrap only (RHEL documents it as unsupported)`);
    const net = v4ToInt(cidr[1]!); const a = v4ToInt(addr); const len = Number(cidr[2]);
    if (net === undefined || a === undefined || len > 32) return false;
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    return ((a & mask) >>> 0) === ((net & mask) >>> 0);
  }
  if (/[*?]/.test(tok)) {
    flags.push(`"${tok}" uses * or ? wildcards (Fedora/openSUSE libwrap only)`);
    const re = globToRegExp(tok);
    if (re.test(addr)) return true;
    return host !== undefined ? re.test(host) : 'unknown';
  }
  if (/^[\d.]+\.$/.test(tok)) return addr.startsWith(tok);
  if (tok.startsWith('.')) return host !== undefined ? host.endsWith(tok.toLowerCase()) : needName('the client host name');
  if (isIP(tok) !== 0) {
    if (isIP(tok) === 6) return v6ToBigInt(tok) === v6ToBigInt(addr);
    return tok === addr;
  }
  return host !== undefined ? host === tok.toLowerCase() : needName('the client host name');
}

function matchDaemonToken(tok: string, daemon: string, flags: string[]): Tri {
  if (tok.toUpperCase() === 'ALL') return true;
  if (tok.includes('@')) {
    flags.push(`"${tok}" selects by server address (daemon@host); evaluated on the daemon name only`);
    const name = tok.slice(0, tok.indexOf('@'));
    return name.toUpperCase() === 'ALL' || name.toLowerCase() === daemon.toLowerCase() ? 'unknown' : false;
  }
  if (/^\d+$/.test(tok)) { flags.push(`"${tok}": port numbers in the daemon list are a Debian extension`); return 'unknown'; }
  if (/[*?]/.test(tok)) {
    flags.push(`"${tok}" uses * or ? wildcards (Fedora/openSUSE libwrap only)`);
    return globToRegExp(tok).test(daemon);
  }
  return tok.toLowerCase() === daemon.toLowerCase();
}

function entryMatches(entry: HostsEntry, daemon: string, client: AccessClient, flags: string[]): Tri {
  const d = listMatch(entry.daemons, (t) => matchDaemonToken(t, daemon, flags));
  if (d === false) return false;
  return and(d, listMatch(entry.clients, (t) => matchClientToken(t, client, flags)));
}

export function evaluateHostsAccess(input: { allow: string; deny: string; daemon: string; client: AccessClient }): AccessDecision {
  const flags: string[] = [];
  const files: [string, string, 'allow' | 'deny'][] = [['/etc/hosts.allow', input.allow, 'allow'], ['/etc/hosts.deny', input.deny, 'deny']];
  for (const [file, text, meaning] of files) {
    for (const entry of parseHostsFile(text, file, flags)) {
      const m = entryMatches(entry, input.daemon, input.client, flags);
      if (m === false) continue;
      const decidedBy: WrappersRuleRef = { file: entry.file, line: entry.line, text: entry.text };
      return { decision: m === true ? entry.option ?? meaning : 'unknown', decidedBy, flags: [...new Set(flags)] };
    }
  }
  return { decision: 'allow', flags: [...new Set(flags)] };
}
