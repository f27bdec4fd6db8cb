/** Edit distance, used to suggest the name an operator probably meant. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** Up to `limit` candidates close to `input`: small edit distance, or a shared prefix. */
export function closestNames(input: string, candidates: Iterable<string>, limit = 3): string[] {
  const needle = input.toLowerCase();
  const maxDistance = Math.max(1, Math.min(3, Math.floor(needle.length / 3)));
  return [...new Set(candidates)]
    .map((name) => {
      const hay = name.toLowerCase();
      const d = editDistance(needle, hay);
      const prefix = needle.length >= 2 && (hay.startsWith(needle) || needle.startsWith(hay));
      return { name, score: prefix ? Math.min(d, 1) : d };
    })
    .filter((x) => x.score <= maxDistance)
    .sort((a, b) => a.score - b.score || a.name.localeCompare(b.name))
    .slice(0, limit)
    .map((x) => x.name);
}
