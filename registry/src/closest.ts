// "Did you mean …": the known name nearest a misspelt one, by edit distance with transpositions (`prot` → `port`).

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours each cost 1. */
function distance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1)
      rows[i]![j] = best
    }
  }
  return rows[a.length]![b.length]!
}

/**
 * The candidate nearest `name` (case-insensitively) when it is a likely typo of it — at most 2 edits, and fewer
 * than half its length — or null.
 *
 * @example
 * closestName('prot', ['host', 'port', 'urlPrefix']) // 'port'
 */
export function closestName(name: string, candidates: readonly string[]): string | null {
  let best: string | null = null
  let bestDistance = Infinity
  for (const candidate of candidates) {
    if (candidate === name) continue
    const d = distance(name.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best !== null && bestDistance <= 2 && bestDistance * 2 < Math.max(name.length, 2) ? best : null
}
