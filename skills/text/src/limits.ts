// Limits and defaults shared by the tool schemas (main thread) and the worker functions (pool threads).

/** The BPE encodings the tools count with. */
export const ENCODINGS = ['cl100k_base', 'o200k_base'] as const
export type Encoding = (typeof ENCODINGS)[number]
export const DEFAULT_ENCODING: Encoding = 'cl100k_base'

/** Longer texts are refused: 5 M characters take a few seconds to encode in one pool thread. */
export const MAX_TEXT_LENGTH = 5_000_000
/** The largest chunk `chunk_text` makes, in tokens. */
export const MAX_CHUNK_TOKENS = 8192
/** `chunk_text` refuses to answer with more chunks than this: ask for bigger chunks or less overlap. */
export const MAX_CHUNKS = 10_000
export const MAX_QUERY_LENGTH = 2_000
export const MAX_TOP_K = 50

export const SEARCH_MAX_TOKENS = 200
export const SEARCH_OVERLAP = 20
export const SEARCH_TOP_K = 3

export const DEFAULT_TIMEOUT_MS = 30_000
