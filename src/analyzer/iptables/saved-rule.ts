import type { Match, Rule, Target } from '../model.ts';
import { prefixMask } from '../ip-address.ts';
import { AddrMatch } from './addr-match.ts';

/** Stands in a pending slot for the rule's compact IPv4 address match (never handed out). */
export const ADDRESS_SLOT = { kind: 'unknown', reason: 'internal placeholder', invert: false, text: '' } as Match;

/**
 * An iptables-save rule. A 100,000-rule dump would otherwise hold a copy of every line and comment
 * and four or five small objects per rule, and the time goes into allocating and garbage-collecting
 * them. So a rule keeps offsets into the dump text and cuts `text`/`comment` when read, and the fast
 * path leaves its matches pending: up to four shared match objects plus one IPv4 address held as
 * numbers. `matches` builds the array (and the address match) on first read; the rule index reads
 * the pending form directly, so explaining a packet only builds the rules it actually walks.
 */
export class SavedRule implements Rule {
  position: number;
  line: number;
  target: Target;
  /** The dump text (or the rule's own text); the rule is its line from `start`, without the line end. */
  private readonly src: string;
  private readonly start: number;
  /** -1: none; -2: in `extra`; else the comment's offset from `start` * 4096 + its length. */
  private readonly commentAt: number;
  /** What few rules have: counters, a comment that had escapes. */
  private extra: { counters?: { packets: number; bytes: number }; comment?: string } | undefined;
  private list: Match[] | undefined;
  private p0: Match | undefined = undefined;
  private p1: Match | undefined = undefined;
  private p2: Match | undefined = undefined;
  private p3: Match | undefined = undefined;
  /** The pending address (signed 32-bit) and `prefixLength | (dst ? 64 : 0) | (invert ? 128 : 0) | count << 8`. */
  private a32 = 0;
  private aInfo = 0;

  /** The comment is `src[commentStart, commentEnd)`, or `commentText` when commentStart is -2 (none: -1). */
  constructor(position: number, line: number, src: string, start: number, target: Target,
    commentStart: number, commentEnd: number, commentText: string | undefined, matches: Match[] | undefined) {
    this.position = position;
    this.line = line;
    this.target = target;
    this.src = src;
    this.start = start;
    this.list = matches;
    this.extra = undefined;
    const rel = commentStart - start;
    const len = commentEnd - commentStart;
    if (commentStart === -1) this.commentAt = -1;
    else if (commentStart >= 0 && rel < 0x80000 && len < 4096) this.commentAt = rel * 4096 + len;
    else {
      this.commentAt = -2;
      this.extra = { comment: commentText ?? src.slice(commentStart, commentEnd) };
    }
  }

  /** Sets pending matches (at most four; ADDRESS_SLOT marks where the IPv4 address `a32`/`info` goes). */
  setPending(count: number, m0: Match | undefined, m1: Match | undefined, m2: Match | undefined, m3: Match | undefined,
    a32: number, info: number): void {
    this.p0 = m0;
    this.p1 = m1;
    this.p2 = m2;
    this.p3 = m3;
    this.a32 = a32;
    this.aInfo = info | (count << 8);
  }

  get matches(): Match[] {
    return this.list ?? this.build();
  }

  set matches(value: Match[]) {
    this.list = value;
  }

  /** The line as the general parser keeps it: without the line end and trailing white space. */
  get text(): string {
    const end = this.src.indexOf('\n', this.start);
    return this.src.slice(this.start, end < 0 ? this.src.length : end).trimEnd();
  }

  get comment(): string | undefined {
    const at = this.commentAt;
    if (at >= 0) {
      const from = this.start + Math.floor(at / 4096);
      return this.src.slice(from, from + (at % 4096));
    }
    return at === -2 ? this.extra?.comment : undefined;
  }

  get counters(): { packets: number; bytes: number } | undefined {
    return this.extra?.counters;
  }

  set counters(value: { packets: number; bytes: number } | undefined) {
    if (value === undefined) { if (this.extra) delete this.extra.counters; return; }
    this.extra = { ...this.extra, counters: value };
  }

  /** Pending match `i` for the rule index, without building anything; undefined = the address. */
  pendingMatch(i: number): Match | undefined {
    const m = i === 0 ? this.p0 : i === 1 ? this.p1 : i === 2 ? this.p2 : this.p3;
    return m === ADDRESS_SLOT ? undefined : m;
  }

  /** Number of pending matches; -1 once `matches` has been built or set. */
  get pendingCount(): number {
    return this.list === undefined ? this.aInfo >> 8 : -1;
  }

  /** Whether the pending address is a non-inverted source match (`-s`, not `! -s` or `-d`). */
  pendingAddressIsSource(): boolean {
    return (this.aInfo & 192) === 0;
  }

  /** First octet every source must have to match the pending address (a prefix of /8 or longer), else -1. */
  pendingSourceOctet(): number {
    return (this.aInfo & 63) >= 8 ? this.a32 >>> 24 : -1;
  }

  private build(): Match[] {
    const out: Match[] = [];
    const count = this.aInfo >> 8;
    for (let i = 0; i < count; i++) {
      let m = (i === 0 ? this.p0 : i === 1 ? this.p1 : i === 2 ? this.p2 : this.p3) as Match;
      if (m === ADDRESS_SLOT) {
        const len = this.aInfo & 63;
        m = new AddrMatch('ipv4', (this.aInfo & 64) !== 0 ? 'dst' : 'src', this.a32 >>> 0, prefixMask('ipv4', len), (this.aInfo & 128) !== 0);
      }
      out.push(m);
    }
    this.list = out;
    this.p0 = this.p1 = this.p2 = this.p3 = undefined;
    return out;
  }

  /** Plain-object form (getters are not own properties, so spread and JSON would miss them). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { position: this.position, text: this.text, line: this.line, matches: this.matches, target: this.target };
    const c = this.comment;
    if (c !== undefined) out['comment'] = c;
    if (this.counters !== undefined) out['counters'] = this.counters;
    return out;
  }
}
