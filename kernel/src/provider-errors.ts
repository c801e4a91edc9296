// What a provider error means for the retry layer, and what the client may see of it.
// Providers let their SDK's errors through: Stainless SDKs (openai, @anthropic-ai/sdk) put the upstream HTTP
// status on `status` and its headers on `headers`, and name connection failures APIConnection(Timeout)Error.
import {
  ERR_PROVIDER_FAILED,
  ERR_PROVIDER_RATE_LIMITED,
  ERR_PROVIDER_TIMEOUT,
  isRobutlerError,
  type RobutlerError,
} from './errors.js'
import type { ModelTarget } from './providers.js'

export type FailureKind = 'rate_limit' | 'server' | 'connection' | 'timeout' | 'client'

export interface Classified {
  kind: FailureKind
  retryable: boolean
  status: number | null
  /** From a Retry-After (or retry-after-ms) header. */
  retryAfterMs: number | null
}

/** The reason our own per-call timer aborts a provider call with. */
export class ProviderTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`)
    this.name = 'ProviderTimeoutError'
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'])

function header(headers: unknown, name: string): string | null {
  if (!headers) return null
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name)
  const value = (headers as Record<string, unknown>)[name]
  return typeof value === 'string' ? value : null
}

/** Retry-After as seconds or an HTTP date; retry-after-ms (OpenAI) wins when present. */
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

/** The error's class name: openai@6's errors all have `name === 'Error'`, their classes are named. */
function kindName(e: { name?: string; constructor?: { name?: string } } | null): string {
  const name = e?.name
  return name && name !== 'Error' ? name : (e?.constructor?.name ?? '')
}

export function classify(error: unknown): Classified {
  const e = error as { name?: string; code?: string; status?: unknown; headers?: unknown; cause?: { code?: string } } | null
  const status = typeof e?.status === 'number' ? e.status : null
  const name = kindName(e)
  if (e instanceof ProviderTimeoutError || name === 'APIConnectionTimeoutError' || name === 'TimeoutError') {
    return { kind: 'timeout', retryable: false, status, retryAfterMs: null }
  }
  if (status !== null) {
    const after = retryAfterMs(e?.headers)
    if (status === 429) return { kind: 'rate_limit', retryable: true, status, retryAfterMs: after }
    if (status >= 500 || status === 408 || status === 409) return { kind: 'server', retryable: true, status, retryAfterMs: after }
    return { kind: 'client', retryable: false, status, retryAfterMs: null }
  }
  // An error event inside an upstream stream (Anthropic's `overloaded_error`) has no status but is transient.
  const type = (e as { type?: unknown; error?: { type?: unknown } } | null)?.type ?? (e as { error?: { type?: unknown } } | null)?.error?.type
  if (type === 'overloaded_error' || type === 'rate_limit_error' || type === 'api_error') {
    return { kind: type === 'rate_limit_error' ? 'rate_limit' : 'server', retryable: true, status: null, retryAfterMs: null }
  }
  if (name === 'APIConnectionError' || CONNECTION_CODES.has(e?.code ?? '') || CONNECTION_CODES.has(e?.cause?.code ?? '')) {
    return { kind: 'connection', retryable: true, status: null, retryAfterMs: null }
  }
  // A plain error from a provider of our own: its message is ours, and nothing says a retry would help.
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
