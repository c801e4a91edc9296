// The errors this plugin answers with, made with the kernel's factory (the kernel passes them through as they are).
import { createError } from '@robutler/kernel'

/** 503: a key of ours could not be checked because the key database did not answer. Never a 401: the key may be fine. */
export const ERR_AUTH_KEYS_UNAVAILABLE = createError(
  'RBT_ERR_AUTH_KEYS_UNAVAILABLE',
  'The API key store is unavailable; retry shortly',
  503,
  'server_error',
  { retryAfter: 1 },
)
