import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { Family, Ruleset } from './model.ts';
import { parseIptablesSave } from './iptables/parse-iptables-save.ts';
import { parseNftJson } from './nftables/parse-nft-json.ts';

export interface ParseRulesetOptions {
  format?: 'auto' | 'iptables-save' | 'nft-json';
  /** Label for the source ("iptables-legacy", "iptables-nft", "nft", …); guessed when absent. */
  source?: string;
  /** For iptables-save text: ipv4 (iptables-save) or ipv6 (ip6tables-save); guessed when absent. */
  family?: Family;
}

/** Parses iptables-save / ip6tables-save text or `nft -j list ruleset` JSON into one model. */
export function parseRuleset(text: string, opts: ParseRulesetOptions = {}): Ruleset {
  const format = opts.format ?? 'auto';
  const looksJson = /^\s*[{[]/.test(text);
  if (format === 'nft-json' || (format === 'auto' && looksJson)) {
    return parseNftJson(text, opts.source === undefined ? {} : { source: opts.source });
  }
  if (format !== 'auto' && format !== 'iptables-save') {
    throw new WhyBlockedError(ErrorCode.Usage, `unknown ruleset format "${String(format)}"; use auto, iptables-save or nft-json`);
  }
  const o: { source?: string; family?: Family } = {};
  if (opts.source !== undefined) o.source = opts.source;
  if (opts.family !== undefined) o.family = opts.family;
  return parseIptablesSave(text, o);
}
