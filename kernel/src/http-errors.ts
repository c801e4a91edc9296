// Maps any error to the OpenAI-shaped answer a client gets. Unknown errors are 500s with no stack or detail.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import {
  ERR_BODY_TOO_LARGE,
  ERR_INTERNAL,
  ERR_INVALID_JSON,
  ERR_INVALID_REQUEST,
  ERR_ROUTE_NOT_FOUND,
  ERR_UNSUPPORTED_MEDIA_TYPE,
  errorBody,
  isRobutlerError,
  type RobutlerError,
} from './errors.js'
import type { ErrorAnswer } from './surface-types.js'

export function publicError(error: unknown, request: FastifyRequest, bodyLimit: number): RobutlerError {
  if (isRobutlerError(error)) return error
  const e = error as FastifyError & { status?: number }
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return ERR_BODY_TOO_LARGE(bodyLimit)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return ERR_UNSUPPORTED_MEDIA_TYPE(String(request.headers['content-type'] ?? '').slice(0, 100))
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return ERR_INVALID_JSON('the body is empty')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return ERR_INVALID_JSON(e.message)
  }
  if (e instanceof SyntaxError) return ERR_INVALID_JSON(e.message)
  const status = e?.statusCode ?? e?.status
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return status === 404 ? ERR_ROUTE_NOT_FOUND(request.method, request.url.slice(0, 200)) : ERR_INVALID_REQUEST(String(e.message).slice(0, 300))
  }
  return ERR_INTERNAL(request.id)
}

/** Sends an error: OpenAI-shaped, or as `answer` says (a surface's own shape, see SurfaceDefinition.errors). */
export function sendError(reply: FastifyReply, error: RobutlerError, answer?: ErrorAnswer): FastifyReply {
  if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter))
  // A draining server sends keep-alive clients elsewhere rather than answering them 503 again and again.
  if (error.code === 'RBT_ERR_DRAINING') reply.header('connection', 'close')
  const type = reply.type('application/json; charset=utf-8')
  return answer ? type.code(answer.status).send(answer.body) : type.code(error.statusCode).send(errorBody(error))
}
