// Every error this plugin answers with, in one place, made with the kernel's factory: the kernel's error handler
// sends them OpenAI-shaped, with `Retry-After`.
import { createError } from '@robutler/kernel'

export const ERR_RATE_LIMITED = createError(
  'RBT_ERR_RATE_LIMITED',
  'Rate limit exceeded: %d requests per %s; retry in %d s',
  429,
  'rate_limit_error',
  { retryAfter: (_max: number, _window: string, seconds: number) => seconds },
)

/** Retry-After 1 s: a slot frees as soon as one of the caller's own requests ends. */
export const ERR_TOO_MANY_PARALLEL = createError(
  'RBT_ERR_TOO_MANY_PARALLEL',
  'Too many parallel requests: at most %d at a time per caller; retry when one finishes',
  429,
  'rate_limit_error',
  { retryAfter: 1 },
)
