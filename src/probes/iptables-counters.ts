import type { CounterHit } from '../triage/evidence-types.ts';

interface CounterRow { table: string; chain: string; position?: number; rule: string; packets: number; policy: boolean }

/** `iptables-save -c` → one row per rule and per built-in chain policy. */
export function parseIptablesCounters(text: string): CounterRow[] {
  const rows: CounterRow[] = [];
  const positions = new Map<string, number>();
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) { table = line.slice(1); continue; }
    const policy = /^:(\S+) (ACCEPT|DROP|RETURN|QUEUE) \[(\d+):(\d+)\]$/.exec(line);
    if (policy) { rows.push({ table, chain: policy[1]!, rule: `policy ${policy[2]}`, packets: Number(policy[3]), policy: true }); continue; }
    const rule = /^\[(\d+):(\d+)\] (-A (\S+) .*)$/.exec(line) ?? /^\[(\d+):(\d+)\] (-A (\S+))$/.exec(line);
    if (rule) {
      const key = `${table}/${rule[4]}`;
      const position = (positions.get(key) ?? 0) + 1;
      positions.set(key, position);
      rows.push({ table, chain: rule[4]!, position, rule: rule[3]!, packets: Number(rule[1]), policy: false });
    }
  }
  return rows;
}

export interface CounterDiff { hits: CounterHit[]; rulesChanged: boolean }

/**
 * Rules whose packet counters rose between two dumps of the same source. If the rules themselves
 * differ, someone changed them meanwhile: then positions cannot be trusted and that is reported.
 */
export function diffCounters(before: string, after: string, source: string): CounterDiff {
  const a = parseIptablesCounters(before);
  const b = parseIptablesCounters(after);
  const shape = (rows: CounterRow[]): string => rows.map((r) => `${r.table}/${r.chain}/${r.position ?? 'P'}/${r.rule}`).join('\n');
  if (shape(a) !== shape(b)) return { hits: [], rulesChanged: true };
  const hits: CounterHit[] = [];
  b.forEach((row, i) => {
    const delta = row.packets - a[i]!.packets;
    if (delta > 0) {
      hits.push({
        source, table: row.table, chain: row.chain, rule: row.rule, packets: delta,
        ...(row.position !== undefined ? { position: row.position } : {}), ...(row.policy ? { policy: true } : {}),
      });
    }
  });
  return { hits, rulesChanged: false };
}
