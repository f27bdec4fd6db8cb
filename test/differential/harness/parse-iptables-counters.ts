import type { CounterChain, CounterSnapshot, RuleAction } from './counter-snapshot.ts';

/**
 * iptables hook priorities (netfilter_ipv4.h). iptables-nft registers security at 150 instead of 50,
 * i.e. after nat INPUT (100), not before it (measured: FINDINGS.md).
 */
const TABLE_PRIORITY: Record<string, Record<string, number>> = {
  raw: { PREROUTING: -300, OUTPUT: -300 },
  mangle: { PREROUTING: -150, INPUT: -150, FORWARD: -150, OUTPUT: -150, POSTROUTING: -150 },
  nat: { PREROUTING: -100, INPUT: 100, OUTPUT: -100, POSTROUTING: 100 },
  filter: { INPUT: 0, FORWARD: 0, OUTPUT: 0 },
  security: { INPUT: 50, FORWARD: 50, OUTPUT: 50 },
};

/**
 * Reads `iptables-save -c` output into a counter snapshot. The chains' family is the backend name,
 * which keeps them apart from native nft chains of the same name when both are loaded.
 */
export function parseIptablesCounters(text: string, backend: string): CounterSnapshot {
  const chains: CounterChain[] = [];
  let table = '';
  const byName = new Map<string, CounterChain>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line === 'COMMIT') continue;
    if (line.startsWith('*')) {
      table = line.slice(1);
      byName.clear();
      continue;
    }
    const chainLine = /^:(\S+) (\S+) \[(\d+):(\d+)\]$/.exec(line);
    if (chainLine) {
      const [, name, policy, packets] = chainLine as unknown as [string, string, string, string];
      const priority = table === 'security' && backend.includes('nft') ? 150 : TABLE_PRIORITY[table]?.[name];
      const chain: CounterChain = { family: backend, table, name, rules: [] };
      if (policy !== '-') {
        chain.hook = name.toLowerCase();
        chain.type = table === 'nat' ? 'nat' : 'filter';
        if (priority !== undefined) chain.priority = priority;
        chain.policy = policy === 'DROP' ? 'drop' : 'accept';
        chain.policyPackets = Number(packets);
      }
      chains.push(chain);
      byName.set(name, chain);
      continue;
    }
    const ruleLine = /^\[(\d+):(\d+)\] -A (\S+)(.*)$/.exec(line);
    if (!ruleLine) throw new Error(`unexpected iptables-save -c line: ${line}`);
    const [, packets, , chainName, rest] = ruleLine as unknown as [string, string, string, string, string];
    const chain = byName.get(chainName);
    if (chain === undefined) throw new Error(`rule for undeclared chain ${chainName}`);
    chain.rules.push({ id: chain.rules.length + 1, packets: Number(packets), action: actionOf(tokenize(rest), byName), text: `-A ${chainName}${rest}` });
  }
  return { chains };
}

function actionOf(tokens: string[], chains: ReadonlyMap<string, CounterChain>): RuleAction {
  const jumpAt = tokens.lastIndexOf('-j');
  const gotoAt = tokens.lastIndexOf('-g');
  if (gotoAt >= 0) return { kind: 'goto', chain: tokens[gotoAt + 1] as string };
  if (jumpAt < 0) return { kind: 'none' };
  const target = tokens[jumpAt + 1] as string;
  switch (target) {
    // DNAT/REDIRECT/SNAT/MASQUERADE end their nat chain like ACCEPT (NF_ACCEPT with a binding).
    case 'ACCEPT': case 'DNAT': case 'REDIRECT': case 'SNAT': case 'MASQUERADE': return { kind: 'accept' };
    case 'DROP': return { kind: 'drop' };
    case 'RETURN': return { kind: 'return' };
    case 'REJECT': {
      const withAt = tokens.indexOf('--reject-with');
      return { kind: 'reject', rejectWith: withAt >= 0 ? (tokens[withAt + 1] as string) : 'icmp-port-unreachable' };
    }
    // Anything that is not a chain of this table is a non-terminating target here (LOG, MARK, CT, ...).
    default:
      return chains.has(target) ? { kind: 'jump', chain: target } : { kind: 'none' };
  }
}

/** Tokenizer after xshared.c add_param_to_argv: blanks split, quotes group, backslash escapes inside quotes. */
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let quoted = false;
  let has = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted && c === '\\' && i + 1 < text.length) {
      current += text[++i];
    } else if (c === '"') {
      quoted = !quoted;
      has = true;
    } else if (!quoted && (c === ' ' || c === '\t')) {
      if (has || current !== '') tokens.push(current);
      current = '';
      has = false;
    } else {
      current += c;
    }
  }
  if (has || current !== '') tokens.push(current);
  return tokens;
}
