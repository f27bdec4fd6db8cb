import { createPrng, type Prng } from './create-prng.ts';
import { intToIp, ipToInt, parseCidr } from './ipv4.ts';
import { LOCAL_ADDRESSES, SOURCE_NETWORKS } from './lab-topology.ts';
import type { GenChain, GenMatch, GenRule, GenTable, GenTarget, TableName } from './ruleset-model.ts';

type Dialect = 'iptables' | 'nft';
type Family = 'ipv4' | 'ipv6';

/**
 * Issue #3 matches and targets the base generator leaves out: dotted non-contiguous masks, `-f`,
 * the non-terminating targets (NFLOG, CONNMARK with a later connmark/mark match, CT --zone, TRACE,
 * DSCP, and TCPOPTSTRIP, which the analyzer does not know) and source NAT (nat INPUT SNAT,
 * nat POSTROUTING SNAT/MASQUERADE on the FORWARD path DNAT creates). Each draws from its own
 * stream, so every earlier seed keeps the rules it had.
 */
export function addIptablesFeatures(seed: number, dialect: Dialect, family: Family, tables: GenTable[]): void {
  if (family === 'ipv4') addDottedMasks(createPrng(seed ^ 0x646d736b), tables);
  if (family === 'ipv4') addFragments(createPrng(seed ^ 0x66726167), tables);
  addNonTerminating(createPrng(seed ^ 0x6e6f6e74), dialect, family, tables);
  if (family === 'ipv4') addSourceNat(createPrng(seed ^ 0x736e6174), tables);
  addSecurity(createPrng(seed ^ 0x73656375), dialect, family, tables);
}

/** Non-contiguous only: a contiguous mask is printed as a prefix length. */
const DOTTED_MASKS = ['255.0.255.0', '255.255.0.255', '255.0.0.255', '0.255.255.0', '255.0.255.255', '255.255.255.1'];
/** Where SNAT sends answers: off-box addresses the default route (out0) reaches, never the firewall's own. */
const SNAT_SOURCES = ['192.0.2.77', '198.18.0.5', '100.64.9.9'];
/** CONNMARK values and masks that later connmark/mark matches look for. */
const CONNMARKS: Array<{ value: number; mask: number }> = [
  { value: 0x3, mask: 0xff }, { value: 0x1, mask: 0xffffffff }, { value: 0x10, mask: 0xf0 }, { value: 0x2, mask: 0xffffffff },
];

function filterInput(tables: GenTable[]): GenChain | undefined {
  return tables.find((t) => t.name === 'filter')?.chains.find((c) => c.name === 'INPUT');
}

/** A table's built-in chain, created (policy ACCEPT, so it decides nothing by itself) when missing. */
function builtinChain(tables: GenTable[], table: TableName, hook: 'PREROUTING' | 'INPUT' | 'POSTROUTING', priority?: number): GenChain {
  let t = tables.find((x) => x.name === table);
  if (t === undefined) {
    t = { name: table, chains: [] };
    tables.push(t);
  }
  const found = t.chains.find((c) => c.name === hook);
  if (found !== undefined) return found;
  const chain: GenChain = { name: hook, hook, policy: 'ACCEPT', rules: [], ...(priority === undefined ? {} : { priority }) };
  t.chains.push(chain);
  return chain;
}

function verdictTarget(rng: Prng, family: Family): GenTarget {
  const roll = rng.next();
  if (roll < 0.45) return { kind: 'ACCEPT' };
  if (roll < 0.75) return { kind: 'DROP' };
  return { kind: 'REJECT', rejectWith: family === 'ipv6' ? 'icmp6-adm-prohibited' : 'icmp-host-prohibited' };
}

function sourceBase(rng: Prng): string {
  const { base, prefixLen } = parseCidr(rng.pick(SOURCE_NETWORKS));
  return intToIp((base + rng.int(1, 2 ** (32 - prefixLen) - 2)) >>> 0);
}

/** `-s a/m`, `-d a/m` near the top of filter INPUT; `-d` with a local address matches several of them. */
function addDottedMasks(rng: Prng, tables: GenTable[]): void {
  const input = filterInput(tables);
  if (input === undefined || !rng.chance(0.5)) return;
  const count = rng.int(1, 2);
  for (let i = 0; i < count; i++) {
    const field = rng.chance(0.6) ? 'src' : 'dst';
    const mask = rng.pick(DOTTED_MASKS);
    const addr = intToIp((ipToInt(field === 'src' ? sourceBase(rng) : rng.pick(LOCAL_ADDRESSES)) & ipToInt(mask)) >>> 0);
    const match: GenMatch = { maskedAddr: { field, addr, mask, neg: rng.chance(0.25) } };
    if (rng.chance(0.4)) match.proto = { name: rng.pick(['tcp', 'udp'] as const), neg: false };
    input.rules.splice(rng.int(0, Math.min(2, input.rules.length)), 0, { match, target: verdictTarget(rng, 'ipv4') });
  }
}

/** `-f` never matches an unfragmented probe and `! -f` always does: checks the negation. */
function addFragments(rng: Prng, tables: GenTable[]): void {
  if (!rng.chance(0.4)) return;
  const input = filterInput(tables);
  if (input === undefined) return;
  const match: GenMatch = { fragment: { neg: rng.chance(0.6) } };
  if (rng.chance(0.5)) match.proto = { name: rng.pick(['tcp', 'udp', 'icmp'] as const), neg: false };
  if (rng.chance(0.3)) match.src = { cidr: `${intToIp((ipToInt(sourceBase(rng)) & 0xffffff00) >>> 0)}/24`, neg: false };
  input.rules.splice(rng.int(0, Math.min(3, input.rules.length)), 0, { match, target: verdictTarget(rng, 'ipv4') });
  // Sometimes in raw too: before conntrack, but still after defrag (-400), so the same answer.
  if (rng.chance(0.3)) builtinChain(tables, 'raw', 'PREROUTING').rules.push({ match: { fragment: { neg: rng.chance(0.5) } }, target: { kind: 'NONE' } });
}

/**
 * raw: CT --zone (before or after the seed's NOTRACK rules: the first of the two wins in xt, nft's
 * zone set overrides notrack), TRACE, and a CONNMARK/connmark that find no connection yet.
 * mangle: NFLOG, DSCP, TCPOPTSTRIP (unknown to the analyzer), CONNMARK set/save/restore.
 * filter INPUT: connmark and mark matches that read what CONNMARK wrote.
 */
function addNonTerminating(rng: Prng, dialect: Dialect, family: Family, tables: GenTable[]): void {
  if (!rng.chance(0.7)) return;
  const anywhere = (chain: GenChain, rule: GenRule): void => { chain.rules.splice(rng.int(0, chain.rules.length), 0, rule); };
  const l4 = (): GenMatch => (rng.chance(0.5) ? { proto: { name: rng.pick(['tcp', 'udp'] as const), neg: false } } : {});
  if (rng.chance(0.45)) {
    const raw = builtinChain(tables, 'raw', 'PREROUTING');
    anywhere(raw, { match: l4(), target: { kind: 'CTZONE', zone: rng.pick([1, 5, 300]) } });
    if (rng.chance(0.3)) anywhere(raw, { match: { connmark: { value: 0, mask: 0xffffffff, neg: rng.chance(0.5) } }, target: rng.pick([{ kind: 'ACCEPT' }, { kind: 'NONE' }] as const) });
  }
  if (rng.chance(0.25)) {
    // TRACE logs every rule a traced packet crosses (legacy: to the kernel log): keep it to one protocol.
    anywhere(builtinChain(tables, 'raw', 'PREROUTING'), { match: { proto: { name: 'udp', neg: false } }, target: { kind: 'TRACE' } });
  }
  if (rng.chance(0.15)) anywhere(builtinChain(tables, 'raw', 'PREROUTING'), { match: l4(), target: { kind: 'CONNMARK', op: 'set', ...rng.pick(CONNMARKS) } });
  const mangleHook = rng.pick(['PREROUTING', 'INPUT'] as const);
  const mangle = (): GenChain => builtinChain(tables, 'mangle', mangleHook);
  if (rng.chance(0.4)) anywhere(mangle(), { match: l4(), target: { kind: 'NFLOG', group: rng.pick([1, 5, 100]) } });
  if (rng.chance(0.3)) anywhere(mangle(), { match: l4(), target: { kind: 'DSCP', dscp: rng.pick([10, 46]) } });
  if (dialect === 'iptables' && rng.chance(0.35)) anywhere(mangle(), { match: { proto: { name: 'tcp', neg: false } }, target: { kind: 'TCPOPTSTRIP' } });
  const set = rng.pick(CONNMARKS);
  const flow = rng.next();
  if (flow < 0.75) {
    const chain = mangle();
    const at = rng.int(0, chain.rules.length);
    // set, or MARK-then-save, or set-then-restore: each leaves a mark a later match can read.
    const steps: GenTarget[] = flow < 0.3
      ? [{ kind: 'CONNMARK', op: 'set', ...set }]
      : flow < 0.5 ? [{ kind: 'MARK', ...set }, { kind: 'CONNMARK', op: 'save' }] : [{ kind: 'CONNMARK', op: 'set', ...set }, { kind: 'CONNMARK', op: 'restore' }];
    const match = l4();
    chain.rules.splice(at, 0, ...steps.map((target) => ({ match, target })));
    const input = filterInput(tables);
    if (input !== undefined) {
      const probe = rng.chance(0.7) ? set : rng.pick(CONNMARKS);
      const readBack: GenMatch = rng.chance(0.6) || flow < 0.3
        ? { connmark: { ...probe, neg: rng.chance(0.25) } }
        : { mark: { ...probe, neg: rng.chance(0.25) } };
      // Last in INPUT: it decides what nothing else did, and leaves earlier lookups their packets.
      input.rules.push({ match: readBack, target: verdictTarget(rng, family) });
    }
  }
}

/**
 * nat INPUT SNAT (the local socket sees the new source; the answer is translated back in nat
 * OUTPUT, before filter OUTPUT), and nat POSTROUTING SNAT/MASQUERADE for what DNAT forwards. The
 * lab's egress `out0` has no address: MASQUERADE then takes the first global address of another
 * interface (inet_select_addr), so it still accepts (FINDINGS.md).
 */
function addSourceNat(rng: Prng, tables: GenTable[]): void {
  const broad = (): GenMatch => {
    const match: GenMatch = {};
    if (rng.chance(0.6)) {
      match.proto = { name: rng.pick(['tcp', 'udp'] as const), neg: false };
      if (rng.chance(0.4)) match.dport = { lo: rng.pick([22, 53, 80, 443, 2000, 8080]), hi: 0, neg: rng.chance(0.2) };
      if (match.dport !== undefined) match.dport.hi = match.dport.lo;
    }
    if (rng.chance(0.3)) match.src = { cidr: `${intToIp((ipToInt(sourceBase(rng)) & 0xffff0000) >>> 0)}/16`, neg: rng.chance(0.2) };
    return match;
  };
  const natTarget = (masquerade: boolean): GenTarget => {
    const roll = rng.next();
    if (roll < 0.75) return masquerade && rng.chance(0.5) ? { kind: 'MASQUERADE' } : { kind: 'SNAT', to: rng.pick(SNAT_SOURCES) };
    return { kind: rng.pick(['ACCEPT', 'RETURN', 'NONE'] as const) };
  };
  if (rng.chance(0.35)) {
    const chain = builtinChain(tables, 'nat', 'INPUT', 100);
    for (let i = rng.int(1, 2); i > 0; i--) chain.rules.push({ match: broad(), target: natTarget(false) });
  }
  // POSTROUTING matters only on the FORWARD path, which exists only where addNat planted DNAT.
  const dnat = tables.find((t) => t.name === 'nat')?.chains.some((c) => c.rules.some((r) => r.target.kind === 'DNAT')) === true;
  if (dnat && rng.chance(0.8)) {
    const chain = builtinChain(tables, 'nat', 'POSTROUTING', 100);
    // Broad matches: only what DNAT forwards reaches POSTROUTING, a small share of the probes.
    for (let i = rng.int(1, 2); i > 0; i--) {
      const match: GenMatch = rng.chance(0.5) ? { proto: { name: rng.pick(['tcp', 'udp'] as const), neg: rng.chance(0.2) } } : {};
      chain.rules.push({ match, target: natTarget(true) });
    }
  }
}

/**
 * The security table's INPUT chain (step 6 of the local path). Legacy runs it at priority 50,
 * before nat INPUT (100); iptables-nft registers it at 150, after nat INPUT, so it sees the source
 * a nat INPUT SNAT wrote; native nft chains get either priority. Sources include the SNAT
 * addresses so that ordering decides. No REJECT: xt REJECT is restricted to the filter table.
 */
function addSecurity(rng: Prng, dialect: Dialect, family: Family, tables: GenTable[]): void {
  if (!rng.chance(0.35)) return;
  const priority = dialect === 'nft' ? rng.pick([50, 150]) : undefined;
  const chain = builtinChain(tables, 'security', 'INPUT', priority);
  if (rng.chance(0.2)) chain.policy = 'DROP';
  for (let i = rng.int(1, 4); i > 0; i--) {
    const match: GenMatch = {};
    if (rng.chance(0.5)) {
      const addr = family === 'ipv4' && rng.chance(0.5) ? rng.pick(SNAT_SOURCES) : family === 'ipv4' ? sourceBase(rng) : undefined;
      if (addr !== undefined) match.src = { cidr: `${addr}/32`, neg: rng.chance(0.2) };
    }
    if (rng.chance(0.6)) {
      match.proto = { name: rng.pick(['tcp', 'udp'] as const), neg: false };
      if (rng.chance(0.5)) match.dport = { lo: rng.pick([22, 53, 80, 443, 2000, 8080]), hi: 0, neg: rng.chance(0.2) };
      if (match.dport !== undefined) match.dport.hi = match.dport.lo;
    }
    const roll = rng.next();
    const target: GenTarget = { kind: roll < 0.4 ? 'ACCEPT' : roll < 0.75 ? 'DROP' : roll < 0.85 ? 'RETURN' : 'NONE' };
    chain.rules.push({ match, target });
  }
}
