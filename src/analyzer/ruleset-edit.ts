import { ErrorCode, WhyBlockedError } from '../errors.ts';

/**
 * Line-level editing of iptables-save text. Fixes are applied to the operator's own lines, not to
 * a re-rendering of the parsed model, so everything the fix does not touch restores exactly as it
 * was dumped (only counters are dropped: a restore must not carry stale counts).
 */

export interface SaveLine {
  kind: 'chain' | 'rule' | 'other';
  /** The line without counters and without a trailing CR. */
  text: string;
  /** Chain declared (`:NAME …`) or appended to (`-A NAME …`). */
  chain?: string;
}

export interface SaveTable {
  name: string;
  lines: SaveLine[];
}

export interface SaveDocument {
  tables: SaveTable[];
}

export type RuleEdit =
  | { op: 'insert'; table: string; chain: string; position: number; spec: string }
  | { op: 'append'; table: string; chain: string; spec: string }
  | { op: 'delete'; table: string; chain: string; position: number };

function editError(message: string): WhyBlockedError {
  return new WhyBlockedError(ErrorCode.RulesetParse, message);
}

/** `:INPUT ACCEPT [12:345]` → `:INPUT ACCEPT [0:0]`; `[1:2] -A X …` → `-A X …`. */
function stripCounters(line: string): string {
  if (line.startsWith(':')) return line.replace(/\s+\[\d+:\d+\]\s*$/, ' [0:0]');
  return line.replace(/^\[\d+:\d+\]\s+/, '');
}

/** Splits iptables-save text into tables of chain and rule lines (comments outside tables are dropped). */
export function parseSaveDocument(text: string): SaveDocument {
  const tables: SaveTable[] = [];
  let current: SaveTable | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (trimmed.startsWith('*')) {
      current = { name: trimmed.slice(1).trim(), lines: [] };
      tables.push(current);
      continue;
    }
    if (!current) throw editError(`line "${line}" is outside a table; the text is not iptables-save output`);
    if (trimmed === 'COMMIT') { current = undefined; continue; }
    const clean = stripCounters(line);
    if (clean.startsWith(':')) {
      current.lines.push({ kind: 'chain', text: clean, chain: clean.slice(1).split(/\s+/)[0] ?? '' });
      continue;
    }
    const m = /^(?:-A|--append)\s+(\S+)/.exec(clean);
    if (m) current.lines.push({ kind: 'rule', text: clean, chain: m[1] as string });
    else current.lines.push({ kind: 'other', text: clean });
  }
  return { tables };
}

export function findTable(doc: SaveDocument, name: string): SaveTable {
  const t = doc.tables.find((x) => x.name === name);
  if (!t) throw editError(`table ${name} is not in the ruleset`);
  return t;
}

/** Indexes (into table.lines) of the chain's rule lines, in rule order. */
export function ruleLineIndexes(table: SaveTable, chain: string): number[] {
  const out: number[] = [];
  table.lines.forEach((l, i) => { if (l.kind === 'rule' && l.chain === chain) out.push(i); });
  return out;
}

/** The rule's arguments after `-A CHAIN`, as `iptables -I CHAIN N <spec>` takes them. */
export function ruleSpec(table: SaveTable, chain: string, position: number): string {
  const idx = ruleLineIndexes(table, chain)[position - 1];
  if (idx === undefined) throw editError(`${table.name} ${chain} has no rule ${position}`);
  return (table.lines[idx] as SaveLine).text.replace(/^(?:-A|--append)\s+\S+\s*/, '');
}

function cloneDoc(doc: SaveDocument): SaveDocument {
  return { tables: doc.tables.map((t) => ({ name: t.name, lines: t.lines.map((l) => ({ ...l })) })) };
}

function applyOne(doc: SaveDocument, e: RuleEdit): void {
  const table = findTable(doc, e.table);
  if (!table.lines.some((l) => l.kind === 'chain' && l.chain === e.chain)) throw editError(`chain ${e.chain} is not declared in table ${e.table}`);
  const rules = ruleLineIndexes(table, e.chain);
  if (e.op === 'delete') {
    const idx = rules[e.position - 1];
    if (idx === undefined) throw editError(`cannot delete rule ${e.position} of ${e.table} ${e.chain}: it has ${rules.length} rules`);
    table.lines.splice(idx, 1);
    return;
  }
  const line: SaveLine = { kind: 'rule', chain: e.chain, text: `-A ${e.chain} ${e.spec}`.trimEnd() };
  if (e.op === 'insert' && (e.position < 1 || e.position > rules.length + 1)) {
    throw editError(`cannot insert at ${e.position} in ${e.table} ${e.chain}: it has ${rules.length} rules`);
  }
  const before = e.op === 'insert' ? rules[e.position - 1] : undefined;
  if (before !== undefined) { table.lines.splice(before, 0, line); return; }
  // Appending: after the chain's last rule, or after the last line so far when it has none.
  const last = rules[rules.length - 1];
  table.lines.splice(last === undefined ? table.lines.length : last + 1, 0, line);
}

/** Applies edits in order (each position is relative to the result of the previous edits). */
export function applyEdits(doc: SaveDocument, edits: readonly RuleEdit[]): SaveDocument {
  const out = cloneDoc(doc);
  for (const e of edits) applyOne(out, e);
  return out;
}

export function serializeTable(table: SaveTable): string {
  return `*${table.name}\n${table.lines.map((l) => `${l.text}\n`).join('')}COMMIT\n`;
}

/** iptables-restore input: the named tables (or all), each complete and committed. */
export function serializeDocument(doc: SaveDocument, tables?: readonly string[]): string {
  return doc.tables.filter((t) => !tables || tables.includes(t.name)).map(serializeTable).join('');
}

/** The `iptables …` command equivalent of one edit (argv joined; rule specs keep their save-format quoting). */
export function editCommand(binary: string, e: RuleEdit): string {
  const t = e.table === 'filter' ? '' : ` -t ${e.table}`;
  switch (e.op) {
    case 'delete': return `${binary} -w${t} -D ${e.chain} ${e.position}`;
    case 'insert': return `${binary} -w${t} -I ${e.chain} ${e.position} ${e.spec}`;
    case 'append': return `${binary} -w${t} -A ${e.chain} ${e.spec}`;
  }
}
