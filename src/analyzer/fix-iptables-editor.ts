import type { FixEdit, FixRuleRef, NarrowAccept, TableEditor } from './fix-edit-types.ts';
import { applyEdits, editCommand, parseSaveDocument, ruleSpec, findTable, serializeDocument, type RuleEdit } from './ruleset-edit.ts';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, hasPorts, protoName } from './protocols.ts';

/** iptables-save canonical form of the narrow ACCEPT (option order as iptables-save prints it). */
export function narrowAcceptSpec(n: NarrowAccept): string {
  const parts = [`-s ${n.srcCidr}`];
  if (n.dstCidr !== undefined) parts.push(`-d ${n.dstCidr}`);
  parts.push(`-p ${protoName(n.proto)}`);
  const name = protoName(n.proto);
  const ports = hasPorts(n.proto) ? [...(n.sport !== undefined ? [`--sport ${n.sport}`] : []), ...(n.dport !== undefined ? [`--dport ${n.dport}`] : [])] : [];
  if (ports.length > 0) parts.push(`-m ${name} ${ports.join(' ')}`);
  if (n.proto === IPPROTO_ICMP && n.icmpType !== undefined) parts.push(`-m icmp --icmp-type ${n.icmpType}`);
  if (n.proto === IPPROTO_ICMPV6 && n.icmpType !== undefined) parts.push(`-m icmp6 --icmpv6-type ${n.icmpType}`);
  parts.push(`-m conntrack --ctstate ${n.state}`);
  parts.push('-j ACCEPT');
  return parts.join(' ');
}

export function createIptablesEditor(text: string, table: string, binary: string): TableEditor {
  const doc = parseSaveDocument(text);
  const original = findTable(doc, table);
  const spec = (chain: string, r: FixRuleRef): string => ('existing' in r ? ruleSpec(original, chain, r.existing) : narrowAcceptSpec(r.narrow));
  return {
    apply(edits: readonly FixEdit[]) {
      const lineEdits: RuleEdit[] = edits.map((e) => {
        switch (e.op) {
          case 'delete': return { op: 'delete', table, chain: e.chain, position: e.position };
          case 'insert': return { op: 'insert', table, chain: e.chain, position: e.position, spec: spec(e.chain, e.rule) };
          case 'append': return { op: 'append', table, chain: e.chain, spec: spec(e.chain, e.rule) };
        }
      });
      const after = applyEdits(doc, lineEdits);
      return {
        fullText: serializeDocument(after),
        applyText: serializeDocument(after, [table]),
        applyFormat: 'iptables-restore',
        commands: lineEdits.map((e) => editCommand(binary, e)),
      };
    },
  };
}
