import type { Match } from '../model.ts';
import { RuleSyntaxError } from './parse-rule-options.ts';

const counterOptions = new Set(['--packets-eq', '--packets-lt', '--packets-gt', '--bytes-eq', '--bytes-lt', '--bytes-gt']);

/** `-m set` arguments (after `set`): one `[!] --match-set NAME src|dst[,…]` plus flags (libxt_set revision 4). */
export function parseSetMatch(args: string[], text: string): Match {
  let name: string | undefined;
  let dirs: ('src' | 'dst')[] = [];
  let invert = false;
  let returnNomatch = false;
  let counterTest: string | undefined;
  let bang = false;
  for (let i = 0; i < args.length; i++) {
    const tok = args[i] as string;
    if (tok === '!') {
      if (bang) throw new RuleSyntaxError(tok, 'two "!" in a row');
      bang = true;
      continue;
    }
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new RuleSyntaxError(tok, `option "${tok}" needs a value`);
      return v;
    };
    if (tok === '--match-set' || tok === '--set') {
      if (name !== undefined) throw new RuleSyntaxError(tok, 'one -m set takes one --match-set (repeat -m set for more)');
      name = value();
      const flags = value();
      dirs = flags.split(',').map((f) => {
        if (f !== 'src' && f !== 'dst') throw new RuleSyntaxError(flags, `"${flags}" must be src or dst, comma-separated`);
        return f;
      });
      if (dirs.length > 6) throw new RuleSyntaxError(flags, 'at most 6 directions (IPSET_DIM_MAX)');
      invert = bang;
    } else if (tok === '--return-nomatch') {
      returnNomatch = true;
    } else if (tok === '--update-counters' || tok === '--update-subcounters') {
      // `! --update-counters` only stops the counters from moving: no effect on this packet's verdict.
    } else if (counterOptions.has(tok)) {
      const v = value();
      if (!/^\d+$/.test(v)) throw new RuleSyntaxError(v, `"${v}" is not a number`);
      counterTest = `${bang ? '! ' : ''}${tok} ${v}`;
    } else {
      throw new RuleSyntaxError(tok, `unknown option "${tok}" for match "set"`);
    }
    bang = false;
  }
  if (bang) throw new RuleSyntaxError('!', '"!" at the end of -m set');
  if (name === undefined) throw new RuleSyntaxError('set', '-m set needs --match-set NAME src|dst');
  const m: Match = { kind: 'ipset', set: name, dirs, returnNomatch, invert, text };
  if (counterTest !== undefined) m.counterTest = counterTest;
  return m;
}
