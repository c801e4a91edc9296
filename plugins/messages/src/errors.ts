// Errors in the Messages API's shape on this surface's routes: `{"type":"error","error":{"type","message"}}` with
// Anthropic's status and type names, the RBT_ERR_* code kept in `error.details.error_code` (which the Anthropic
// SDKs read into `errorCode`). A saturated worker pool and a draining server are 529 overloaded_error, as
// Anthropic answers when it cannot take the request now.
import type { ErrorAnswer, RobutlerError } from '@robutler/kernel'
import type { FastifyRequest } from 'fastify'

/** Codes that mean "this server cannot take it now": 529, which Anthropic clients retry after Retry-After. */
const OVERLOADED: ReadonlySet<string> = new Set(['RBT_ERR_POOL_SATURATED', 'RBT_ERR_DRAINING'])

const TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  413: 'request_too_large',
  415: 'invalid_request_error',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
}

/** The Anthropic status of an error. */
function statusOf(error: RobutlerError): number {
  return OVERLOADED.has(error.code) ? 529 : error.statusCode
}

/** The Anthropic error object of an error: type, message, and our code and param in `details`. */
export function anthropicError(error: RobutlerError): { type: string; message: string; details: { error_code: string; param: string | null } } {
  const status = statusOf(error)
  const type = TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error')
  return { type, message: error.message, details: { error_code: error.code, param: error.param } }
}

/**
 * The surface's error renderer (SurfaceDefinition.errors).
 * @example
 * renderError(ERR_POOL_SATURATED(256), request)
 * // { status: 529, body: { type: 'error', error: { type: 'overloaded_error', message: …, details: { error_code: 'RBT_ERR_POOL_SATURATED', param: null } }, request_id: … } }
 */
export function renderError(error: RobutlerError, request: FastifyRequest): ErrorAnswer {
  return { status: statusOf(error), body: { type: 'error', error: anthropicError(error), request_id: request.id } }
}
