/**
 * Just enough of sudoers(5) to check the shipped file offline: Cmnd_Alias entries, the user's
 * grant line and secure_path, matched the way sudo 1.9.10+ matches them (a lone `""` means no
 * arguments; `^…$` is a regex over the arguments joined by single spaces; otherwise the exact
 * arguments). The lab test (test/probes/least-privilege.lab.test.ts) checks the same commands
 * with the real sudo; this one also covers tools the test machine lacks (firewall-cmd, ufw).
 */
export interface CommandSpec {
  alias: string;
  path: string;
  /** undefined = any arguments (a bare command); '' = none; else the literal text or the regex. */
  args?: string;
  regex: boolean;
}

export interface SudoersRules {
  specs: CommandSpec[];
  /** Aliases on the `<user> ALL=(root) NOPASSWD:` line. */
  granted: string[];
  securePath: string[];
}

function logicalLines(text: string): string[] {
  return text.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** Splits `path args, path ^regex$, …`: a regex runs to a `$` followed by a comma or the end. */
function splitSpecs(alias: string, list: string): CommandSpec[] {
  const specs: CommandSpec[] = [];
  let rest = list.trim();
  while (rest !== '') {
    const path = /^\S+/.exec(rest)![0].replace(/,$/, '');
    rest = rest.slice(path.length).replace(/^[ \t]+/, '');
    let args: string | undefined;
    let regex = false;
    if (rest.startsWith(',') || rest === '') {
      args = undefined;
    } else if (rest.startsWith('^')) {
      const end = /\$\s*(,|$)/.exec(rest);
      if (!end) throw new Error(`unterminated regex in ${alias}: ${rest.slice(0, 60)}`);
      args = rest.slice(0, end.index + 1);
      rest = rest.slice(end.index + 1);
      regex = true;
    } else {
      const end = /(?<!\\),/.exec(rest);
      args = (end ? rest.slice(0, end.index) : rest).trim();
      rest = end ? rest.slice(end.index) : '';
    }
    specs.push({ alias, path, ...(args !== undefined ? { args } : {}), regex });
    rest = rest.replace(/^\s*,\s*/, '');
  }
  return specs;
}

export function parseSudoers(text: string, user: string): SudoersRules {
  const specs: CommandSpec[] = [];
  let granted: string[] = [];
  let securePath: string[] = [];
  for (const line of logicalLines(text)) {
    const alias = /^Cmnd_Alias\s+([A-Z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (alias) { specs.push(...splitSpecs(alias[1]!, alias[2]!)); continue; }
    const sp = /secure_path="([^"]*)"/.exec(line);
    if (sp && line.startsWith(`Defaults:${user}`)) securePath = sp[1]!.split(':');
    const grant = new RegExp(`^${user}\\s+ALL=\\(root\\)\\s+NOPASSWD:\\s*(.*)$`).exec(line);
    if (grant) granted = grant[1]!.split(',').map((a) => a.trim());
  }
  return { specs, granted, securePath };
}

const unescape = (s: string): string => s.replace(/\\([,:=\\])/g, '$1');

/** The spec that would let `sudo -n -- argv…` run, or undefined. */
export function findMatch(rules: SudoersRules, argv: string[]): CommandSpec | undefined {
  const [cmd, ...args] = argv;
  const candidates = cmd!.startsWith('/') ? [cmd!] : rules.securePath.map((d) => `${d}/${cmd!}`);
  return rules.specs.find((s) => {
    if (!rules.granted.includes(s.alias) || !candidates.includes(s.path)) return false;
    if (s.args === undefined) return true;
    if (s.args === '""') return args.length === 0;
    if (s.regex) return new RegExp(s.args).test(args.join(' '));
    return unescape(s.args) === args.join(' ');
  });
}

/** Repetition counts sudo refuses (it then matches nothing, silently). */
export function oversizedRepetitions(spec: CommandSpec): string[] {
  if (!spec.regex || spec.args === undefined) return [];
  return [...spec.args.matchAll(/\{(\d+)(?:,(\d*))?\}/g)].filter((m) => Number(m[1]) > 255 || Number(m[2] ?? 0) > 255).map((m) => m[0]);
}
