// Every error this plugin answers with, in one place. The kernel's error handler sends a RobutlerError as is:
// OpenAI-shaped, with `Retry-After` from `retryAfter`.
import { format } from 'node:util'
import { RobutlerError } from '@robutler/kernel'

export interface RateLimitErrorFactory {
  (retryAfterSeconds: number, ...values: unknown[]): RobutlerError
  readonly code: string
  readonly statusCode: number
}

function createError(code: string, message: string, statusCode: number): RateLimitErrorFactory {
  const factory = (retryAfterSeconds: number, ...values: unknown[]) => {
    const error = new RobutlerError(code, format(message, ...values), statusCode, 'rate_limit_error')
    error.retryAfter = retryAfterSeconds
    return error
  }
  return Object.assign(factory, { code, statusCode })
}

export const ERR_RATE_LIMITED = createError(
  'RBT_ERR_RATE_LIMITED',
  'Rate limit exceeded: %d requests per %s; retry in %d s',
  429,
)

export const ERR_TOO_MANY_PARALLEL = createError(
  'RBT_ERR_TOO_MANY_PARALLEL',
  'Too many parallel requests: at most %d at a time per caller; retry when one finishes',
  429,
)
