// @robutler/skill-text: token counting, token-bounded chunking and BM25 search, all run in the kernel's worker pool.
// This module only declares the tools; the work is in ./worker.ts, loaded by the pool threads, never here.
import { defineSkill } from '@robutler/kernel'
import { DEFAULT_TIMEOUT_MS } from './limits.js'
import { chunkTextTool, countTokensTool, searchTextTool } from './tools.js'

export interface TextConfig {
  /** Per-call time limit of each tool, in milliseconds (default 30000). */
  timeoutMs?: number
}

const PROMPT =
  'For long texts, use the text tools rather than estimating: count_tokens gives the exact token count of a text, ' +
  'chunk_text splits a text into pieces that fit a token budget, and search_text finds the passages of a long ' +
  'document that match a question, so you can read those instead of the whole.'

export default defineSkill<TextConfig>({
  name: 'text',
  setup(config) {
    const timeoutMs = config?.timeoutMs ?? DEFAULT_TIMEOUT_MS
    return {
      tools: [countTokensTool(timeoutMs), chunkTextTool(timeoutMs), searchTextTool(timeoutMs)],
      prompts: [{ priority: 60, text: PROMPT }],
    }
  },
})

export type { Chunk, ChunkTextArgs, CountTokensArgs, Encoding, SearchHit, SearchTextArgs } from './worker.js'
