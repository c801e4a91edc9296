// The contract between providers and the kernel's one retry layer: a provider throws a ProviderError that says
// what kind of failure it met (it knows its SDK; the kernel knows none), and the kernel decides from that whether
// to retry, when, and what the client may see.
import { ERR_PROVIDER_FAILED, ERR_PROVIDER_RATE_LIMITED, ERR_PROVIDER_TIMEOUT, isRobutlerError, type RobutlerError } from './errors.js'
import type { ModelTarget } from './providers.js'

export type ProviderFailureKind = 'rate_limit' | 'server' | 'connection' | 'timeout' | 'client'

export interface Classified {
  kind: ProviderFailureKind
  retryable: boolean
  status: number | null
  /** From a Retry-After (or retry-after-ms) header. */
  retryAfterMs: number | null
}

const KINDS: ReadonlySet<string> = new Set<ProviderFailureKind>(['rate_limit', 'server', 'connection', 'timeout', 'client'])
/** Kinds a retry may cure when the provider does not say otherwise. */
const TRANSIENT: ReadonlySet<ProviderFailureKind> = new Set<ProviderFailureKind>(['rate_limit', 'server', 'connection'])

export interface ProviderErrorOptions {
  /** The upstream HTTP status, when there was an answer. */
  status?: number | null
  /** How long the upstream asked us to wait (see retryAfterMs()). */
  retryAfterMs?: number | null
  /** Default: true for rate_limit, server and connection; false for timeout and client. */
  retryable?: boolean
  /** The SDK's own error, kept for the log. */
  cause?: unknown
}

/**
 * A failed model call, classified by the provider that made it. The kernel retries the retryable ones (after
 * `retryAfterMs` when set), then falls back; the client sees the kind and status, never the message of an answer
 * that had a status (an upstream body may echo a key or a prompt).
 * @example
 * if (error instanceof SdkRateLimit) throw ProviderError.fromStatus(429, error.message, { headers: error.headers, cause: error })
 * if (error instanceof SdkConnectionError) throw new ProviderError('connection', error.message, { cause: error })
 */
export class ProviderError extends Error implements Classified {
  readonly kind: ProviderFailureKind
  readonly status: number | null
  readonly retryAfterMs: number | null
  readonly retryable: boolean

  constructor(kind: ProviderFailureKind, message: string, options: ProviderErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ProviderError'
    this.kind = kind
    this.status = options.status ?? null
    this.retryAfterMs = options.retryAfterMs ?? null
    this.retryable = options.retryable ?? TRANSIENT.has(kind)
  }

  /**
   * The failure an upstream HTTP answer means: 429 rate_limit; 5xx, 408 and 409 server (both retried, honouring
   * the answer's Retry-After); any other status client (not retried).
   */
  static fromStatus(status: number, message: string, options: { headers?: unknown; cause?: unknown } = {}): ProviderError {
    const kind: ProviderFailureKind = status === 429 ? 'rate_limit' : status >= 500 || status === 408 || status === 409 ? 'server' : 'client'
    const wait = kind === 'client' ? null : retryAfterMs(options.headers)
    return new ProviderError(kind, message, { status, retryAfterMs: wait, cause: options.cause })
  }
}

/** By shape as well as class: a plugin may load another copy of the kernel module (a bundler, a test runner). */
export function isProviderError(error: unknown): error is ProviderError {
  if (error instanceof ProviderError) return true
  const e = error as Partial<ProviderError> | null
  return e?.name === 'ProviderError' && typeof e.kind === 'string' && KINDS.has(e.kind) && typeof e.retryable === 'boolean'
}

/** The reason our own per-call timer aborts a provider call with. */
export class ProviderTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`)
    this.name = 'ProviderTimeoutError'
  }
}

/** Node's socket failures: what createProviderFetch rejects with when the upstream cannot be reached. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'])

function header(headers: unknown, name: string): string | null {
  if (!headers) return null
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name)
  const value = (headers as Record<string, unknown>)[name]
  return typeof value === 'string' ? value : null
}

/**
 * Milliseconds an upstream asks to wait: Retry-After as seconds or an HTTP date; retry-after-ms (OpenAI) wins
 * when present. Takes a Headers object or a plain object of lower-case names; null when there is no such header.
 * @example
 * retryAfterMs(new Headers({ 'retry-after': '7' })) // 7000
 */
export function retryAfterMs(headers: unknown, now = Date.now()): number | null {
  const ms = Number(header(headers, 'retry-after-ms'))
  if (Number.isFinite(ms) && ms >= 0 && header(headers, 'retry-after-ms') !== null) return ms
  const value = header(headers, 'retry-after')
  if (value === null) return null
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? null : Math.max(0, date - now)
}

/** What a failed call means for the retry layer. */
export function classify(error: unknown): Classified {
  if (error instanceof ProviderTimeoutError) return { kind: 'timeout', retryable: false, status: null, retryAfterMs: null }
  if (isProviderError(error)) return { kind: error.kind, retryable: error.retryable, status: error.status, retryAfterMs: error.retryAfterMs }
  const e = error as { code?: string; cause?: { code?: string } } | null
  if (CONNECTION_CODES.has(e?.code ?? '') || CONNECTION_CODES.has(e?.cause?.code ?? '')) {
    return { kind: 'connection', retryable: true, status: null, retryAfterMs: null }
  }
  // Anything else, a provider's own plain error among them: its message is ours, and nothing says a retry helps.
  return { kind: 'server', retryable: false, status: null, retryAfterMs: null }
}

const SECRETISH = /\b(sk|pk|rk|key|token|bearer)[-_ ]?[A-Za-z0-9_-]{8,}/gi

/**
 * The error the client gets when every attempt failed: status-mapped, short, with no upstream body (it may echo
 * a key or a prompt) and anything key-like removed from our own providers' messages.
 */
export function publicProviderError(error: unknown, target: ModelTarget): RobutlerError {
  if (isRobutlerError(error)) return error
  const c = classify(error)
  if (c.kind === 'timeout') return ERR_PROVIDER_TIMEOUT()
  if (c.kind === 'rate_limit') return ERR_PROVIDER_RATE_LIMITED(target.id, Math.max(1, Math.ceil((c.retryAfterMs ?? 1000) / 1000)))
  if (c.status !== null) return ERR_PROVIDER_FAILED(`${target.id} answered HTTP ${c.status}`)
  if (c.kind === 'connection') return ERR_PROVIDER_FAILED(`${target.id} could not be reached`)
  const message = String((error as Error)?.message ?? error).replace(SECRETISH, '[redacted]').slice(0, 300)
  return ERR_PROVIDER_FAILED(`${target.id}: ${message}`)
}
