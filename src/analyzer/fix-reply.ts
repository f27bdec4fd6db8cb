import { explainPacket, type DecidedBy } from './explain-packet.ts';
import type { FixEdit, NarrowAccept } from './fix-edit-types.ts';
import { editorFor, findTable, type FixRequest } from './fix-synthesis.ts';
import { formatIp } from './ip-address.ts';
import { toPacket } from './packet-input.ts';
import { parseRuleset } from './parse-ruleset.ts';
import { protoName } from './protocols.ts';

export interface ReplyFixCandidate {
  id: 'insert-reply-accept';
  title: string;
  commands: string[];
  rulesetAfter: string;
  rulesetAfterFormat: 'iptables-restore' | 'nft-json';
  table: string;
  chain: string;
  /** The reply re-simulated on the changed ruleset (the request's verdict is unchanged by construction). */
  effect: { verdict: 'accept'; decidedBy: DecidedBy };
  blastRadius: { summary: string[]; weight: number };
}

export interface ReplyFixSynthesis { candidates: ReplyFixCandidate[]; notes: string[] }

/**
 * The request is accepted but the host's OUTPUT path blocks its answer: insert, just before the
 * blocking rule, an ACCEPT for exactly that answer (from the service's address and port to the
 * client, ESTABLISHED only). Such a rule can only pass packets of connections the INPUT side
 * already let in, so it opens nothing new; the flow is re-simulated to prove the reply now leaves.
 */
export function synthesizeReplyFix(input: Omit<FixRequest, 'accept'>): ReplyFixSynthesis {
  const parseOpts = { format: input.format, ...(input.family ? { family: input.family } : {}) };
  const rs = parseRuleset(input.rulesetText, parseOpts);
  const pkt = toPacket(input.packet, input.ctx);
  const family = pkt.family;
  const notes: string[] = [];
  const result: ReplyFixSynthesis = { candidates: [], notes };
  const before = explainPacket(rs, input.packet, input.ctx);
  const reply = before.reply;
  if (before.verdict !== 'accept' || !reply) {
    notes.push('the request itself is not accepted; fix the request first');
    return result;
  }
  if (reply.verdict !== 'drop' && reply.verdict !== 'reject') {
    notes.push(reply.verdict === 'accept' ? 'the reply is already accepted' : 'the reply verdict depends on rules that cannot be judged offline');
    return result;
  }
  const d = reply.decidedBy;
  const table = findTable(rs, d, family);
  if (!table || pkt.dport === undefined) {
    notes.push(table ? 'the flow has no port to name in a reply rule' : `the deciding table ${d.table} was not found in the ruleset`);
    return result;
  }
  const full = family === 'ipv4' ? 32 : 128;
  const server = formatIp(family, pkt.dst);
  const client = formatIp(family, pkt.src);
  const narrow: NarrowAccept = {
    family, srcCidr: `${server}/${full}`, dstCidr: `${client}/${full}`, proto: pkt.proto, sport: pkt.dport, state: 'ESTABLISHED',
  };
  // Positions in DecidedBy are the source's own numbering; edits count rules in the parsed chain.
  const index = d.position !== undefined ? (table.chains.get(d.chain)?.rules.findIndex((r) => r.position === d.position) ?? -1) + 1 : 0;
  const edit: FixEdit = index > 0
    ? { op: 'insert', chain: d.chain, position: index, rule: { narrow } }
    : { op: 'append', chain: d.chain, rule: { narrow } };
  let edited;
  try {
    edited = editorFor(input, table, d.chain).apply([edit]);
  } catch (err) {
    notes.push(`insert-reply-accept: ${(err as Error).message}`);
    return result;
  }
  const afterRs = parseRuleset(edited.fullText, { ...parseOpts, source: table.source, ...(input.format === 'iptables-save' ? { family } : {}) });
  const after = explainPacket(afterRs, input.packet, input.ctx);
  if (after.verdict !== 'accept' || after.reply?.verdict !== 'accept') {
    notes.push(`insert-reply-accept was discarded: after it the reply is still ${after.reply?.verdict ?? 'unknown'} in ${after.reply?.decidedBy.chain ?? '?'}`);
    return result;
  }
  const service = `${pkt.dport}/${protoName(pkt.proto)}`;
  const where = d.position !== undefined ? `just before ${d.chain} rule ${d.position}` : `at the end of ${d.chain} (its policy decides now)`;
  result.candidates.push({
    id: 'insert-reply-accept',
    title: `Insert an ACCEPT for the replies of ${service} from ${server} to ${client} ${where}`,
    commands: edited.commands, rulesetAfter: edited.applyText, rulesetAfterFormat: edited.applyFormat,
    table: table.name, chain: d.chain, effect: { verdict: 'accept', decidedBy: after.reply.decidedBy },
    blastRadius: {
      summary: [
        `lets out only packets from ${server} port ${service} to ${client} in ESTABLISHED connections: answers to connections the INPUT rules already accepted`,
        `opens no new connection in either direction; other traffic ${d.chain} blocks stays blocked`,
      ],
      weight: 1,
    },
  });
  return result;
}
