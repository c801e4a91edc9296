// BM25 ranking of passages against a query (Robertson–Spärck Jones weights, Lucene's non-negative idf).
//
//   score(d, q) = Σ over distinct query terms t:  idf(t) · tf(t, d) · (k1 + 1) / (tf(t, d) + k1 · (1 − b + b · |d| / avgdl))
//   idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
//
// with k1 = 1.2, b = 0.75, N passages, |d| the words of d and avgdl their mean. Words are maximal runs of Unicode
// letters, marks and digits, lowercased, with a small list of English stop words left out.

const K1 = 1.2
const B = 0.75

const WORD = /[\p{L}\p{N}][\p{L}\p{M}\p{N}]*/gu

/** Function words that carry no meaning for search. Kept small: negations and modal verbs are left in. */
export const STOP_WORDS: ReadonlySet<string> = new Set([
  'a', 'about', 'an', 'and', 'are', 'as', 'at', 'be', 'been', 'being', 'but', 'by', 'did', 'do', 'does', 'for',
  'from', 'had', 'has', 'have', 'he', 'her', 'hers', 'him', 'his', 'i', 'if', 'in', 'into', 'is', 'it', 'its',
  'me', 'my', 'of', 'on', 'or', 'our', 'ours', 'she', 'so', 'than', 'that', 'the', 'their', 'theirs', 'them',
  'then', 'there', 'these', 'they', 'this', 'those', 'to', 'us', 'was', 'we', 'were', 'what', 'which', 'who',
  'whom', 'with', 'you', 'your', 'yours',
])

/** The searchable words of a text: lowercased, stop words left out. */
export function words(text: string): string[] {
  const found: string[] = []
  for (const match of text.toLowerCase().matchAll(WORD)) {
    if (!STOP_WORDS.has(match[0])) found.push(match[0])
  }
  return found
}

/** BM25 scores of each passage against the query, in passage order; 0 where no query word occurs. */
export function bm25Scores(query: string, passages: readonly string[]): number[] {
  const terms = [...new Set(words(query))]
  const scores = new Array<number>(passages.length).fill(0)
  if (terms.length === 0 || passages.length === 0) return scores
  const termIndex = new Map(terms.map((term, i) => [term, i]))
  // Per passage, only the query terms it holds (sparse: a passage's other words only count toward |d|).
  const found: Array<Array<[term: number, tf: number]>> = []
  const lengths = new Int32Array(passages.length)
  const documentFrequency = new Int32Array(terms.length)
  const tf = new Int32Array(terms.length)
  passages.forEach((passage, p) => {
    const present: number[] = []
    for (const word of words(passage)) {
      lengths[p]++
      const t = termIndex.get(word)
      if (t === undefined) continue
      if (tf[t]++ === 0) present.push(t)
    }
    found.push(present.map((t) => [t, tf[t]]))
    for (const t of present) {
      documentFrequency[t]++
      tf[t] = 0
    }
  })
  const total = lengths.reduce((sum, length) => sum + length, 0)
  const averageLength = total / passages.length
  const idf = Array.from(documentFrequency, (df) => Math.log(1 + (passages.length - df + 0.5) / (df + 0.5)))
  for (let p = 0; p < passages.length; p++) {
    // A passage holding a query term has |d| ≥ 1, so averageLength > 0 wherever this divides.
    const norm = K1 * (1 - B + (B * lengths[p]) / averageLength)
    let score = 0
    for (const [t, count] of found[p]) score += (idf[t] * count * (K1 + 1)) / (count + norm)
    scores[p] = score
  }
  return scores
}
