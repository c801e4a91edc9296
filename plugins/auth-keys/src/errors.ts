// The errors this plugin answers with (the kernel passes RobutlerErrors through as they are).
import { RobutlerError } from '@robutler/kernel'

/** Seconds a client is told to wait when the key database cannot answer. */
const RETRY_AFTER_SECONDS = 1

/** 503: a key of ours could not be checked because the key database did not answer. Never a 401: the key may be fine. */
export function keyStoreUnavailable(): RobutlerError {
  const error = new RobutlerError(
    'RBT_ERR_AUTH_KEYS_UNAVAILABLE',
    'The API key store is unavailable; retry shortly',
    503,
    'server_error',
  )
  error.retryAfter = RETRY_AFTER_SECONDS
  return error
}
