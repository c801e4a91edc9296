// One log line and one `request:end` event per request, streamed ones included.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Kernel } from './kernel.js'
import type { Context } from './request-context.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The agent request's context (null on routes that serve no agent). */
    robutler: Context | null
    /** The RBT_ERR_* code the request failed with, if it did. */
    robutlerError: string | null
  }
}

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * The client's own id for its request (`x-client-request-id`, as OpenAI's API takes it, or `x-request-id`), when it
 * is a sane one: logged and echoed beside the server's id, never used as it.
 */
export function clientRequestId(request: FastifyRequest): string | undefined {
  const given = request.headers['x-client-request-id'] ?? request.headers['x-request-id']
  return typeof given === 'string' && CLIENT_REQUEST_ID.test(given) ? given : undefined
}

/** `aborted`: the client left before the answer ended (Fastify's onResponse does not run then). */
export function logRequestEnd(kernel: Kernel, request: FastifyRequest, reply: FastifyReply, aborted = false): void {
  const usage = request.robutler?.usage
  const status = reply.statusCode
  const durationMs = Math.round(reply.elapsedTime * 100) / 100
  const agent = (request.params as { agent?: string } | undefined)?.agent ?? null
  const error = request.robutlerError
  request.log.info(
    {
      method: request.method,
      url: request.url,
      status,
      agent,
      durationMs,
      tokens: usage?.total_tokens || undefined,
      error: error ?? undefined,
      aborted: aborted || undefined,
      clientRequestId: clientRequestId(request),
    },
    'request',
  )
  if (kernel.events.has('request:end')) {
    const route = request.routeOptions.url ?? 'unknown'
    kernel.events.emit('request:end', { requestId: request.id, method: request.method, route, status, agent, durationMs, aborted, error })
  }
}
