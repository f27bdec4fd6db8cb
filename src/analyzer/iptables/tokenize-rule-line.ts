/**
 * Splits a rule line the way iptables-restore does (xshared.c add_param_to_argv): blanks separate,
 * `"` toggles quoting, `\x` inside quotes is `x`, a backslash outside quotes is literal.
 * Returns undefined for an unterminated quote so the caller can report the line.
 */
export function tokenizeRuleLine(line: string): string[] | undefined {
  if (line.indexOf('\t') < 0) {
    const q = line.indexOf('"');
    if (q < 0) return splitBlanks(line, []);
    // Common quoted case (comments, log prefixes): no backslashes, quotes around whole tokens.
    if (line.indexOf('\\') < 0) {
      const parts = line.split('"');
      if (parts.length % 2 === 0) return undefined;
      const out: string[] = [];
      let glued = false;
      for (let k = 0; k < parts.length; k++) {
        const part = parts[k] as string;
        if (k % 2 === 1) {
          // Quoted text joins the token it touches (`a"b c"d` is one token).
          if (glued && out.length > 0) out[out.length - 1] += part; else out.push(part);
          glued = true;
          continue;
        }
        if (part === '') continue;
        const startsBlank = part.charCodeAt(0) === 32;
        if (!startsBlank && glued && out.length > 0) {
          const sp = part.indexOf(' ');
          out[out.length - 1] += sp < 0 ? part : part.slice(0, sp);
          if (sp < 0) continue;
          splitBlanks(part.slice(sp), out);
        } else {
          splitBlanks(part, out);
        }
        glued = part.charCodeAt(part.length - 1) !== 32;
      }
      // iptables-restore drops empty parameters (`""`).
      return out.includes('') ? out.filter((t) => t !== '') : out;
    }
  }
  return tokenizeSlow(line);
}

function splitBlanks(s: string, out: string[]): string[] {
  for (const t of s.split(' ')) if (t !== '') out.push(t);
  return out;
}

function tokenizeSlow(line: string): string[] | undefined {
  const out: string[] = [];
  const n = line.length;
  let i = 0;
  while (i < n) {
    let c = line.charCodeAt(i);
    if (c === 32 || c === 9) { i++; continue; }
    let cur = '';
    let quoted = false;
    let started = i;
    for (; i < n; i++) {
      c = line.charCodeAt(i);
      if (quoted && c === 92 /* \\ */ && i + 1 < n) { cur += line.slice(started, i) + line[i + 1]; i++; started = i + 1; continue; }
      if (c === 34) { cur += line.slice(started, i); quoted = !quoted; started = i + 1; continue; }
      if (!quoted && (c === 32 || c === 9)) break;
    }
    cur += line.slice(started, i);
    if (quoted) return undefined;
    if (cur !== '') out.push(cur);
  }
  return out;
}

/** The inverse, as xtables_save_string writes values: bare when safe, else quoted and escaped. */
export function quoteIfNeeded(value: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(value)) return value;
  return `"${value.replace(/["\\']/g, (c) => `\\${c}`)}"`;
}
