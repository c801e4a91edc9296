// Byte-level BPE over js-tiktoken's rank files (cl100k_base, o200k_base): the same pre-tokenising regex, the same
// ranks and the same merge order as js-tiktoken's `Tiktoken.encode(text, [], [])`, so counts match it exactly.
//
// Why not `Tiktoken.encode` itself: its merge rescans every pair after each merge (cubic in the length of one
// regex piece: a 20,000-letter run with no space took 33 s), and it returns ids only, while chunking needs each
// token's character offsets. Here a piece is merged with a cached scan when short and with a heap when long
// (O(n log n)), and every token's end is reported as a UTF-16 offset into the text.
import type { TiktokenBPE } from 'js-tiktoken/lite'

/** Pieces longer than this many bytes are merged with the heap rather than the scan. */
const HEAP_THRESHOLD = 128

/** Heap keys pack `rank * 2^25 + start`: ranks stay below 2^18 and pieces below 2^25 bytes (5 M chars × 3). */
const START_SPAN = 2 ** 25

const ASCII = /^[\x00-\x7f]*$/

/** Token boundaries of a text: `ends[i]` is the UTF-16 offset where token i ends, or -1 when it ends inside a character. */
export interface TokenEnds {
  count: number
  ends: Int32Array
}

export class BpeEncoder {
  /** Token bytes, as a latin1 string (one char per byte), to rank. */
  readonly #ranks = new Map<string, number>()
  readonly #pattern: RegExp

  constructor(bpe: TiktokenBPE) {
    for (const line of bpe.bpe_ranks.split('\n')) {
      if (line === '') continue
      const fields = line.split(' ')
      const offset = Number.parseInt(fields[1], 10)
      for (let i = 2; i < fields.length; i++) this.#ranks.set(atob(fields[i]), offset + i - 2)
    }
    this.#pattern = new RegExp(bpe.pat_str, 'gu')
  }

  /** The number of tokens of `text`; special-token strings such as `<|endoftext|>` count as plain text. */
  count(text: string): number {
    let count = 0
    for (const match of text.matchAll(this.#pattern)) {
      const piece = match[0]
      const bytes = ASCII.test(piece) ? piece : latin1(piece)
      count += bytes.length === 1 || this.#ranks.has(bytes) ? 1 : this.#merge(bytes).length - 1
    }
    return count
  }

  /** Where each token of `text` ends, as UTF-16 offsets (-1 inside a character split across tokens). */
  tokenEnds(text: string): TokenEnds {
    let ends = new Int32Array(Math.ceil(text.length / 3) + 16)
    let count = 0
    const push = (end: number): void => {
      if (count === ends.length) {
        const grown = new Int32Array(ends.length * 2)
        grown.set(ends)
        ends = grown
      }
      ends[count++] = end
    }
    for (const match of text.matchAll(this.#pattern)) {
      const piece = match[0]
      const start = match.index
      const ascii = ASCII.test(piece)
      const bytes = ascii ? piece : latin1(piece)
      if (bytes.length === 1 || this.#ranks.has(bytes)) {
        push(start + piece.length)
        continue
      }
      const bounds = this.#merge(bytes)
      if (ascii) {
        for (let i = 1; i < bounds.length; i++) push(start + bounds[i])
        continue
      }
      // Walk the piece's characters alongside the token byte bounds to turn byte offsets into UTF-16 offsets.
      let byte = 0
      let unit = 0
      for (let i = 1; i < bounds.length; i++) {
        const target = bounds[i]
        while (byte < target) {
          const [bytesOfChar, units] = utf8Width(piece, unit)
          byte += bytesOfChar
          unit += units
        }
        push(byte === target ? start + unit : -1)
      }
    }
    return { count, ends }
  }

  /** tiktoken's merge of one piece: the byte bounds of its tokens, starting with 0 and ending with its length. */
  #merge(bytes: string): number[] {
    return bytes.length > HEAP_THRESHOLD ? this.#mergeWithHeap(bytes) : this.#mergeWithScan(bytes)
  }

  #rankOf(bytes: string, start: number, end: number): number {
    return this.#ranks.get(bytes.slice(start, end)) ?? Infinity
  }

  // Repeatedly merges the adjacent pair of lowest rank (the leftmost among equals), caching each pair's rank.
  #mergeWithScan(bytes: string): number[] {
    const bounds = Array.from({ length: bytes.length + 1 }, (_, i) => i)
    // pairRanks[i]: the rank of parts i and i + 1 together; the last part has no pair.
    const pairRanks = bounds.slice(0, -1).map((start, i) => (i + 2 < bounds.length ? this.#rankOf(bytes, start, start + 2) : Infinity))
    for (;;) {
      let best = -1
      let bestRank = Infinity
      for (let i = 0; i < pairRanks.length; i++) {
        if (pairRanks[i] < bestRank) {
          bestRank = pairRanks[i]
          best = i
        }
      }
      if (best < 0) return bounds
      bounds.splice(best + 1, 1)
      pairRanks.splice(best + 1, 1)
      pairRanks[best] = best + 2 < bounds.length ? this.#rankOf(bytes, bounds[best], bounds[best + 2]) : Infinity
      if (best > 0) pairRanks[best - 1] = this.#rankOf(bytes, bounds[best - 1], bounds[best + 1])
    }
  }

  // The same merge order with a linked list of parts and a min-heap of (rank, start) keys. A popped key is stale
  // when its part is gone or the pair at that start no longer has that rank: ranks are unique per byte string,
  // and a part only ever grows, so an equal rank means the very same pair.
  #mergeWithHeap(bytes: string): number[] {
    const length = bytes.length
    const next = new Int32Array(length)
    const prev = new Int32Array(length)
    const alive = new Uint8Array(length).fill(1)
    const heap = new MinHeap()
    for (let i = 0; i < length; i++) {
      next[i] = i + 1
      prev[i] = i - 1
      if (i + 2 <= length) {
        const rank = this.#rankOf(bytes, i, i + 2)
        if (rank !== Infinity) heap.push(rank * START_SPAN + i)
      }
    }
    const pairRank = (start: number): number => {
      const middle = next[start]
      return middle < length ? this.#rankOf(bytes, start, next[middle]) : Infinity
    }
    while (heap.size > 0) {
      const key = heap.pop()
      const start = key % START_SPAN
      const rank = (key - start) / START_SPAN
      if (alive[start] === 0 || pairRank(start) !== rank) continue
      const absorbed = next[start]
      alive[absorbed] = 0
      next[start] = next[absorbed]
      if (next[start] < length) prev[next[start]] = start
      const right = pairRank(start)
      if (right !== Infinity) heap.push(right * START_SPAN + start)
      if (prev[start] >= 0) {
        const left = pairRank(prev[start])
        if (left !== Infinity) heap.push(left * START_SPAN + prev[start])
      }
    }
    const bounds = [0]
    for (let at = 0; at < length; ) {
      at = next[at]
      bounds.push(at)
    }
    return bounds
  }
}

/** The UTF-8 bytes of `text` as a latin1 string; lone surrogates become U+FFFD, as TextEncoder does. */
function latin1(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1')
}

/** UTF-8 byte length and UTF-16 length of the code point at `index`. */
function utf8Width(text: string, index: number): [bytes: number, units: number] {
  const code = text.charCodeAt(index)
  if (code < 0x80) return [1, 1]
  if (code < 0x800) return [2, 1]
  if (code >= 0xd800 && code <= 0xdbff) {
    const low = text.charCodeAt(index + 1)
    if (low >= 0xdc00 && low <= 0xdfff) return [4, 2]
  }
  return [3, 1]
}

/** A binary min-heap of numbers. */
class MinHeap {
  readonly #items: number[] = []

  get size(): number {
    return this.#items.length
  }

  push(value: number): void {
    const items = this.#items
    let i = items.push(value) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (items[parent] <= value) break
      items[i] = items[parent]
      i = parent
    }
    items[i] = value
  }

  pop(): number {
    const items = this.#items
    const top = items[0]
    const last = items.pop() as number
    if (items.length > 0) {
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        if (left >= items.length) break
        const right = left + 1
        const child = right < items.length && items[right] < items[left] ? right : left
        if (items[child] >= last) break
        items[i] = items[child]
        i = child
      }
      items[i] = last
    }
    return top
  }
}
