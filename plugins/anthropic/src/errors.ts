// The @anthropic-ai/sdk's errors as the kernel's ProviderError: this plugin knows its SDK, the kernel's retry
// layer knows only the kind of failure.
import { AnthropicError, APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@anthropic-ai/sdk'
import { ProviderError, type ProviderFailureKind } from '@robutler/kernel'

/** Error types of an `error` event inside a stream (no status) that a retry may cure. */
const TRANSIENT_TYPES: Readonly<Record<string, ProviderFailureKind>> = {
  overloaded_error: 'server',
  api_error: 'server',
  rate_limit_error: 'rate_limit',
}

/**
 * The ProviderError an SDK failure means, with the SDK's error as its cause. An abort (ours: the client left, or
 * the call timed out) is no provider failure and passes on as it is, as does anything that is not the SDK's.
 * @example
 * try { return await client.messages.create(body, { signal }) } catch (error) { throw toProviderError(error) }
 */
export function toProviderError(error: unknown): unknown {
  if (!(error instanceof AnthropicError) || error instanceof APIUserAbortError) return error
  if (error instanceof APIConnectionTimeoutError) return new ProviderError('timeout', error.message, { cause: error })
  if (error instanceof APIConnectionError) return new ProviderError('connection', error.message, { cause: error })
  if (error instanceof APIError && error.status !== undefined) {
    return ProviderError.fromStatus(error.status, error.message, { headers: error.headers, cause: error })
  }
  const kind = error instanceof APIError && error.type !== null ? TRANSIENT_TYPES[error.type] : undefined
  if (kind) return new ProviderError(kind, error.message, { cause: error })
  return new ProviderError('server', error.message, { retryable: false, cause: error })
}
