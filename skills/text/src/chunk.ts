// Token-bounded chunking with overlap, cutting at the strongest nearby boundary.
//
// A chunk starts at a token boundary s and may end at any token boundary up to s + maxTokens. The cut is chosen
// among the boundaries in the last ~20% of that window (the last floor(maxTokens / 5) tokens, and the window's
// end itself), by the kind of text around it:
//
//   3  paragraph  the whitespace around the cut holds a blank line (two or more line breaks)
//   2  sentence   the whitespace around the cut holds one line break, or follows . ! ? … (closing quotes and
//                 brackets skipped); or the cut follows 。！？ (scripts written without spaces)
//   1  word       there is whitespace on either side of the cut
//   0  none       inside a run of letters, digits or punctuation
//
// The strongest kind wins and, among equals, the latest cut (longer chunks). When nothing in the window is a
// boundary the chunk ends at the window's end, on a token boundary. The next chunk starts `overlap` tokens
// before the cut. Tokens are counted in the whole text's encoding; each chunk is then re-encoded on its own (what
// count_tokens would answer for its text) and, in the rare case where that differs and passes maxTokens, it is
// cut one token earlier until it fits.
import type { BpeEncoder } from './bpe.js'

export interface Chunk {
  index: number
  text: string
  tokens: number
  /** Offset of the chunk's first character in the original text (UTF-16 code units, as String.prototype.slice). */
  start: number
  /** Offset just past the chunk's last character: `text.slice(start, end)` is the chunk. */
  end: number
}

export interface ChunkOptions {
  maxTokens: number
  overlap: number
  /** Fail when the text needs more chunks than this. */
  maxChunks: number
}

/** How far to look at each side of a cut for the whitespace run around it. */
const LOOKAROUND = 256

export function chunkText(text: string, encoder: BpeEncoder, { maxTokens, overlap, maxChunks }: ChunkOptions): Chunk[] {
  if (text === '') return []
  const bounds = tokenBounds(text, encoder)
  const last = bounds.length - 1
  const chunks: Chunk[] = []
  let from = 0
  for (;;) {
    let to = last - from <= maxTokens ? last : cut(text, bounds, from, maxTokens)
    let tokens = to === from ? 0 : encoder.count(text.slice(bounds[from], bounds[to]))
    while (tokens > maxTokens) {
      to = previousBound(bounds, to, from)
      tokens = to === from ? 0 : encoder.count(text.slice(bounds[from], bounds[to]))
    }
    if (to === from) throw tooSmall(text, bounds[from], maxTokens)
    if (chunks.length === maxChunks) {
      throw new Error(
        `The text needs more than ${maxChunks} chunks of ${maxTokens} tokens with an overlap of ${overlap}; ` +
          'ask for larger chunks or a smaller overlap',
      )
    }
    chunks.push({ index: chunks.length, text: text.slice(bounds[from], bounds[to]), tokens, start: bounds[from], end: bounds[to] })
    if (to === last) return chunks
    let next = to - overlap
    while (next > from && bounds[next] < 0) next--
    if (next <= from) {
      // Too much overlap to move forward: start one character-aligned boundary after this chunk's start.
      next = from + 1
      while (bounds[next] < 0) next++
    }
    from = next
  }
}

/**
 * Character offsets of the text's token boundaries: bounds[0] is 0, bounds[k] where token k - 1 ends, and the
 * last is text.length; -1 marks a boundary inside a character, where no chunk may start or end.
 */
function tokenBounds(text: string, encoder: BpeEncoder): Int32Array {
  const { count, ends } = encoder.tokenEnds(text)
  const bounds = new Int32Array(count + 1)
  bounds.set(ends.subarray(0, count), 1)
  bounds[count] = text.length
  return bounds
}

/** The token boundary where the chunk starting at bound `from` ends, when the text goes on past its window. */
function cut(text: string, bounds: Int32Array, from: number, maxTokens: number): number {
  const limit = from + maxTokens
  let best = -1
  let bestStrength = 0
  for (let k = limit - Math.floor(maxTokens / 5); k <= limit; k++) {
    if (bounds[k] < 0) continue
    const strength = boundaryStrength(text, bounds[k])
    if (strength > 0 && strength >= bestStrength) {
      best = k
      bestStrength = strength
    }
  }
  if (best !== -1) return best
  if (bounds[limit] >= 0) return limit
  return previousBound(bounds, limit, from)
}

/** The closest character-aligned boundary before `k`, or `from` when there is none after it. */
function previousBound(bounds: Int32Array, k: number, from: number): number {
  let at = k - 1
  while (at > from && bounds[at] < 0) at--
  return at
}

const SENTENCE_END = new Set(['.', '!', '?', '…'])
const CLOSING = new Set(['"', "'", '”', '’', ')', ']', '»'])
const FULL_STOPS = new Set(['。', '！', '？'])

/** How good a place character offset `at` (0 < at < text.length) is to end a chunk: 0 none … 3 paragraph. */
function boundaryStrength(text: string, at: number): number {
  let before = at
  const lowest = Math.max(0, at - LOOKAROUND)
  while (before > lowest && isSpace(text.charCodeAt(before - 1))) before--
  let after = at
  const highest = Math.min(text.length, at + LOOKAROUND)
  while (after < highest && isSpace(text.charCodeAt(after))) after++
  if (before === after) return FULL_STOPS.has(text[at - 1]) ? 2 : 0
  let lineBreaks = 0
  for (let i = before; i < after; i++) if (text.charCodeAt(i) === 10) lineBreaks++
  if (lineBreaks >= 2) return 3
  if (lineBreaks === 1) return 2
  let end = before
  while (end > lowest && CLOSING.has(text[end - 1])) end--
  return end > 0 && SENTENCE_END.has(text[end - 1]) ? 2 : 1
}

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 0xa0 || code === 0x3000 || (code >= 0x2000 && code <= 0x200a)
}

function tooSmall(text: string, at: number, maxTokens: number): Error {
  return new Error(
    `maxTokens ${maxTokens} is too small for this text: no chunk of ${maxTokens} tokens or fewer can start at offset ` +
      `${at} (${JSON.stringify(text.slice(at, at + 8))}…) without ending inside a character split across tokens`,
  )
}
