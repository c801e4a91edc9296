// The openai SDK's errors as the kernel's ProviderError: this plugin knows its SDK, the kernel's retry layer knows
// only the kind of failure.
import { ProviderError } from '@robutler/kernel'
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, OpenAIError } from 'openai'

/**
 * The ProviderError an SDK failure means, with the SDK's error as its cause. An abort (ours: the client left, or
 * the call timed out) is no provider failure and passes on as it is, as does anything that is not the SDK's.
 * @example
 * try { return await client.chat.completions.create(body, { signal }) } catch (error) { throw toProviderError(error) }
 */
export function toProviderError(error: unknown): unknown {
  if (!(error instanceof OpenAIError)) return error
  // openai@6 errors all keep Error's name ('Error'); logs read the class name instead.
  if (error.name === 'Error') error.name = error.constructor.name
  if (error instanceof APIUserAbortError) return error
  if (error instanceof APIConnectionTimeoutError) return new ProviderError('timeout', error.message, { cause: error })
  if (error instanceof APIConnectionError) return new ProviderError('connection', error.message, { cause: error })
  if (error instanceof APIError && error.status !== undefined) {
    return ProviderError.fromStatus(error.status, error.message, { headers: error.headers, cause: error })
  }
  // An error object inside the event stream (no status): nothing says a retry would help.
  return new ProviderError('server', error.message, { retryable: false, cause: error })
}
