function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** The closest candidate within a small edit distance, for "did you mean" hints. */
export function didYouMean(input: string, candidates: Iterable<string>): string | undefined {
  const needle = input.toLowerCase();
  const list = [...candidates];
  // A unit suffix or prefix left off (timeout → timeout_ms) is the likeliest slip.
  const extended = list.find((c) => {
    const lower = c.toLowerCase();
    return needle.length >= 3 && (lower.startsWith(`${needle}_`) || lower.endsWith(`_${needle}`));
  });
  if (extended) return extended;
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of list) {
    const score = distance(needle, candidate.toLowerCase());
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  const allowed = Math.max(2, Math.floor(needle.length / 3));
  return best !== undefined && bestScore <= allowed ? best : undefined;
}

export function hint(input: string, candidates: Iterable<string>): string {
  const guess = didYouMean(input, candidates);
  return guess ? ` Did you mean "${guess}"?` : '';
}
