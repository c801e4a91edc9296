// The tool definitions of skill-text: schemas, descriptions and examples. Each names the worker export that runs it.
import type { JsonSchema, SkillTool } from '@robutler/kernel'
import { DEFAULT_ENCODING, ENCODINGS, MAX_CHUNK_TOKENS, MAX_QUERY_LENGTH, MAX_TEXT_LENGTH, MAX_TOP_K, SEARCH_TOP_K } from './limits.js'

const text = { type: 'string', maxLength: MAX_TEXT_LENGTH }

const countTokensParameters: JsonSchema = {
  type: 'object',
  properties: {
    text: { ...text, description: 'The text to count' },
    encoding: {
      type: 'string',
      enum: [...ENCODINGS],
      default: DEFAULT_ENCODING,
      description: 'cl100k_base for GPT-4, GPT-3.5 and text-embedding-3 models; o200k_base for GPT-4o, GPT-4.1, o1, o3 and later',
    },
  },
  required: ['text'],
  additionalProperties: false,
}

const chunkTextParameters: JsonSchema = {
  type: 'object',
  properties: {
    text: { ...text, description: 'The text to split' },
    maxTokens: { type: 'integer', minimum: 1, maximum: MAX_CHUNK_TOKENS, description: 'The most tokens a chunk may have' },
    overlap: {
      type: 'integer',
      minimum: 0,
      maximum: MAX_CHUNK_TOKENS - 1,
      default: 0,
      description: 'Tokens repeated at the start of each chunk from the end of the one before; less than maxTokens',
    },
  },
  required: ['text', 'maxTokens'],
  additionalProperties: false,
}

const searchTextParameters: JsonSchema = {
  type: 'object',
  properties: {
    query: { type: 'string', minLength: 1, maxLength: MAX_QUERY_LENGTH, description: 'What to look for, in words' },
    text: { ...text, description: 'The text to search' },
    topK: { type: 'integer', minimum: 1, maximum: MAX_TOP_K, default: SEARCH_TOP_K, description: 'How many passages to return at most' },
  },
  required: ['query', 'text'],
  additionalProperties: false,
}

const EXAMPLE_TEXT =
  'Robutler serves AI agents. Skills are npm packages.\n\nCPU-heavy work runs in a worker pool, so the event loop keeps serving.'

const EXAMPLE_DOCUMENT =
  'Invoices are sent on the first day of each month.\n\nRefunds are paid within 14 days of a return.\n\n' +
  'Support answers email within one business day.'

export function countTokensTool(timeoutMs: number): SkillTool {
  return {
    name: 'count_tokens',
    description:
      'Counts the tokens of a text exactly as OpenAI models tokenize it (BPE encoding cl100k_base by default, or ' +
      'o200k_base). Returns { tokens, encoding }. Use it to check that a text fits a context window or a token budget.',
    parameters: countTokensParameters,
    worker: 'countTokens',
    timeoutMs,
    examples: [
      { arguments: { text: 'hello world' }, result: { tokens: 2, encoding: 'cl100k_base' } },
      { arguments: { text: '日本語のテキスト', encoding: 'o200k_base' }, result: { tokens: 6, encoding: 'o200k_base' } },
    ],
  }
}

export function chunkTextTool(timeoutMs: number): SkillTool {
  return {
    name: 'chunk_text',
    description:
      'Splits a long text into consecutive chunks of at most maxTokens tokens (cl100k_base), each chunk repeating ' +
      'the last `overlap` tokens of the one before, cut at a paragraph, sentence or word boundary when one is near. ' +
      'Returns { chunks: [{ index, text, tokens, start, end }] }, where start and end are character offsets into the text.',
    parameters: chunkTextParameters,
    worker: 'chunkText',
    timeoutMs,
    examples: [
      {
        arguments: { text: EXAMPLE_TEXT, maxTokens: 12, overlap: 3 },
        result: {
          chunks: [
            { index: 0, text: 'Robutler serves AI agents. Skills are npm packages.\n\n', tokens: 12, start: 0, end: 53 },
            { index: 1, text: ' npm packages.\n\nCPU-heavy work runs in a worker pool,', tokens: 12, start: 37, end: 90 },
            { index: 2, text: ' worker pool, so the event loop keeps serving.', tokens: 10, start: 77, end: 123 },
          ],
        },
      },
    ],
  }
}

export function searchTextTool(timeoutMs: number): SkillTool {
  return {
    name: 'search_text',
    description:
      'Finds the passages of a long text that best match a query, by keyword relevance (BM25) over passages of about ' +
      '200 tokens. Returns { results: [{ index, score, text, start, end }] }, best first, at most topK; passages that ' +
      "share no word with the query are left out, and common words such as 'the' or 'of' do not count. " +
      'Use it to find what matters in a document too long to read whole.',
    parameters: searchTextParameters,
    worker: 'searchText',
    timeoutMs,
    examples: [
      {
        arguments: { query: 'When are refunds paid?', text: EXAMPLE_DOCUMENT, topK: 1 },
        result: { results: [{ index: 0, score: 0.575364, text: EXAMPLE_DOCUMENT, start: 0, end: EXAMPLE_DOCUMENT.length }] },
      },
    ],
  }
}
