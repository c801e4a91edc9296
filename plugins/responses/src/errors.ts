// The Responses surface's own error codes. Errors render in OpenAI's shape (the kernel's default renderer), the
// RBT_ERR_* code in `error.code`; a stream that fails after its headers says it with an `error` event and then
// `response.failed`.
import { createError, ERR_INVALID_REQUEST, type RobutlerError } from '@robutler/kernel'

export const ERR_RESPONSE_NOT_FOUND = createError('RBT_ERR_RESPONSE_NOT_FOUND', "No response found with id '%s'.", 404, 'not_found_error')
export const ERR_CONVERSATION_NOT_FOUND = createError('RBT_ERR_CONVERSATION_NOT_FOUND', "No conversation found with id '%s'.", 404, 'not_found_error')
export const ERR_ITEM_NOT_FOUND = createError('RBT_ERR_CONVERSATION_ITEM_NOT_FOUND', "No item found with id '%s' in conversation '%s'.", 404, 'not_found_error')
const ERR_UNSUPPORTED_FACTORY = createError('RBT_ERR_RESPONSES_UNSUPPORTED', '%s is not supported by this server.', 400, 'invalid_request_error')

/** A field or value of the Responses API that this surface does not serve: 400 naming it (`param`). */
export function unsupported(what: string, param: string): RobutlerError {
  const error = ERR_UNSUPPORTED_FACTORY(what)
  error.param = param
  return error
}

/** A malformed request: 400 RBT_ERR_INVALID_REQUEST with `param`. */
export function invalid(message: string, param: string | null): RobutlerError {
  const error = ERR_INVALID_REQUEST(message)
  error.param = param
  return error
}
export const ERR_NOT_BACKGROUND = createError('RBT_ERR_RESPONSE_NOT_BACKGROUND', "Response '%s' was not created with background: true: %s.", 400, 'invalid_request_error')
export const ERR_CANCELLED = createError('RBT_ERR_RESPONSE_CANCELLED', "Response '%s' was cancelled.", 400, 'invalid_request_error')
export const ERR_RUN_LOST = createError(
  'RBT_ERR_RESPONSE_RUN_LOST',
  "The process running response '%s' stopped before the response finished (%s).",
  500,
  'server_error',
)
export const ERR_STORE_UNAVAILABLE = createError('RBT_ERR_RESPONSE_STORE_UNAVAILABLE', 'The response store cannot be reached: %s', 503, 'api_error', {
  retryAfter: 1,
})
