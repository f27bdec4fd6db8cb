import type { CtState, Family } from './model.ts';

/** The narrow rule a fix inserts: this source (or subnet), this protocol and port, this state. */
export interface NarrowAccept {
  family: Family;
  /** Address with prefix length, e.g. `192.168.30.1/32`. */
  srcCidr: string;
  /** Reply-direction rules name the peer too: `-d client/32 --sport 23`. */
  dstCidr?: string;
  proto: number;
  sport?: number;
  dport?: number;
  icmpType?: number;
  state: CtState;
}

/** Which rule an insert puts in place: an existing one (by its position in the original chain) or a new one. */
export type FixRuleRef = { existing: number } | { narrow: NarrowAccept };

/** Positions are live: each is counted after the earlier edits of the same candidate. */
export type FixEdit =
  | { op: 'insert'; chain: string; position: number; rule: FixRuleRef }
  | { op: 'append'; chain: string; rule: FixRuleRef }
  | { op: 'delete'; chain: string; position: number };

export interface EditedTable {
  /** The whole ruleset after the edit, in the input format (for re-simulation). */
  fullText: string;
  /** What the apply step loads atomically (iptables-restore input, or an `nft -j -f` batch). */
  applyText: string;
  applyFormat: 'iptables-restore' | 'nft-json';
  /** Equivalent step-by-step commands, for people. */
  commands: string[];
}

/** Format-specific editing of one table, identified by the decider's table (and source/family). */
export interface TableEditor {
  apply(edits: readonly FixEdit[]): EditedTable;
}
