// Every error this plugin answers with, made with the kernel's factory: the kernel's error handler sends them
// OpenAI-shaped, with `Retry-After` where they carry one.
import { createError } from '@robutler/kernel'

/** A budget is spent: the request is refused before the model is called; Retry-After is the period's reset. */
export const ERR_BUDGET_EXCEEDED = createError(
  'RBT_ERR_BUDGET_EXCEEDED',
  "Budget '%s' is spent (%s per %s); it resets in %d s",
  429,
  'rate_limit_error',
  { retryAfter: (_name: string, _limit: string, _period: string, seconds: number) => seconds },
)

export const ERR_UNAUTHENTICATED = createError('RBT_ERR_UNAUTHENTICATED', '%s', 401, 'authentication_error')
export const ERR_FORBIDDEN = createError('RBT_ERR_FORBIDDEN', '%s', 403, 'permission_error')
