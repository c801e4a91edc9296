// @robutler/skill-text's worker module (the manifest's `robutler.worker`): the functions the pool runs.
// Each takes the tool's arguments (one JSON object) and returns JSON. It imports nothing from the kernel, and its
// arguments are checked again here because it can be called without the kernel's schema check in front of it.
import { bm25Scores } from './bm25.js'
import { chunkText as chunkWithEncoder, type Chunk } from './chunk.js'
import { encoderFor } from './encoders.js'
import {
  DEFAULT_ENCODING,
  ENCODINGS,
  MAX_CHUNK_TOKENS,
  MAX_CHUNKS,
  MAX_QUERY_LENGTH,
  MAX_TEXT_LENGTH,
  MAX_TOP_K,
  SEARCH_MAX_TOKENS,
  SEARCH_OVERLAP,
  SEARCH_TOP_K,
  type Encoding,
} from './limits.js'

export type { Chunk, Encoding }

export interface CountTokensArgs {
  text: string
  /** Default `cl100k_base`. */
  encoding?: Encoding
}

export interface ChunkTextArgs {
  text: string
  /** 1 to 8192. */
  maxTokens: number
  /** Tokens shared by consecutive chunks, less than maxTokens (default 0). */
  overlap?: number
  /** Default `cl100k_base`. */
  encoding?: Encoding
}

export interface SearchTextArgs {
  query: string
  text: string
  /** 1 to 50 (default 3). */
  topK?: number
  /** Size of the passages ranked, 1 to 8192 (default 200, with an overlap of 20 or a tenth of it if less). */
  maxTokens?: number
}

export interface SearchHit {
  /** The passage's index among the text's chunks. */
  index: number
  /** BM25 score, 6 significant digits. */
  score: number
  text: string
  start: number
  end: number
}

/**
 * Counts the tokens of a text with a real BPE encoding; strings such as `<|endoftext|>` count as plain text.
 * @example
 * countTokens({ text: 'hello world' })   // { tokens: 2, encoding: 'cl100k_base' }
 */
export function countTokens(args: CountTokensArgs): { tokens: number; encoding: Encoding } {
  const input = object(args, 'countTokens')
  const text = textArgument(input.text, 'text')
  const encoding = encodingArgument(input.encoding)
  return { tokens: encoderFor(encoding).count(text), encoding }
}

/**
 * Splits a text into chunks of at most `maxTokens` tokens, consecutive chunks sharing about `overlap` tokens,
 * cut at a paragraph, sentence or word boundary near each chunk's end when there is one.
 * `text.slice(chunk.start, chunk.end) === chunk.text`.
 * @example
 * chunkText({ text: longReport, maxTokens: 500, overlap: 50 })   // { chunks: [{ index: 0, text, tokens: 487, start: 0, end: 2310 }, …] }
 */
export function chunkText(args: ChunkTextArgs): { chunks: Chunk[] } {
  const input = object(args, 'chunkText')
  const text = textArgument(input.text, 'text')
  const maxTokens = integerArgument(input.maxTokens, 'maxTokens', 1, MAX_CHUNK_TOKENS)
  const overlap = integerArgument(input.overlap ?? 0, 'overlap', 0, MAX_CHUNK_TOKENS - 1)
  if (overlap >= maxTokens) throw new Error(`overlap (${overlap}) must be less than maxTokens (${maxTokens})`)
  const encoding = encodingArgument(input.encoding)
  return { chunks: chunkWithEncoder(text, encoderFor(encoding), { maxTokens, overlap, maxChunks: MAX_CHUNKS }) }
}

/**
 * Finds the passages of a text that best match a query: the text is cut into chunks (cl100k_base tokens) and
 * ranked with BM25; the best `topK` with a score above 0 come back, best first (ties in text order).
 * @example
 * searchText({ query: 'refund policy', text: handbook, topK: 2 })   // { results: [{ index: 14, score: 7.31, text, start, end }, …] }
 */
export function searchText(args: SearchTextArgs): { results: SearchHit[] } {
  const input = object(args, 'searchText')
  const query = textArgument(input.query, 'query', MAX_QUERY_LENGTH)
  const text = textArgument(input.text, 'text')
  const topK = integerArgument(input.topK ?? SEARCH_TOP_K, 'topK', 1, MAX_TOP_K)
  const maxTokens = integerArgument(input.maxTokens ?? SEARCH_MAX_TOKENS, 'maxTokens', 1, MAX_CHUNK_TOKENS)
  const overlap = Math.min(SEARCH_OVERLAP, Math.floor(maxTokens / 10))
  const chunks = chunkWithEncoder(text, encoderFor(DEFAULT_ENCODING), { maxTokens, overlap, maxChunks: Infinity })
  const scores = bm25Scores(query, chunks.map((chunk) => chunk.text))
  const results = chunks
    .filter((chunk) => scores[chunk.index] > 0)
    .sort((a, b) => scores[b.index] - scores[a.index] || a.index - b.index)
    .slice(0, topK)
    .map(({ index, text: passage, start, end }) => ({ index, score: Number(scores[index].toPrecision(6)), text: passage, start, end }))
  return { results }
}

// ---------------------------------------------------------------- argument checks

function object(args: unknown, name: string): Record<string, unknown> {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw new TypeError(`${name} takes one object of arguments, not ${args === null ? 'null' : typeof args}`)
  }
  return args as Record<string, unknown>
}

function textArgument(value: unknown, name: string, maxLength = MAX_TEXT_LENGTH): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, not ${typeof value}`)
  if (value.length > maxLength) {
    throw new RangeError(`${name} is ${value.length} characters long; the limit is ${maxLength}`)
  }
  return value
}

function integerArgument(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}`)
  }
  return value
}

function encodingArgument(value: unknown): Encoding {
  if (value === undefined) return DEFAULT_ENCODING
  if (!(ENCODINGS as readonly unknown[]).includes(value)) {
    throw new RangeError(`encoding must be one of ${ENCODINGS.join(', ')}, not ${JSON.stringify(value)}`)
  }
  return value as Encoding
}
