// One log line and one `request:end` event per request, streamed ones included.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Kernel } from './kernel.js'
import type { Context } from './request-context.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The agent request's context (null on routes that serve no agent). */
    robutler: Context | null
  }
}

export function logRequestEnd(kernel: Kernel, request: FastifyRequest, reply: FastifyReply): void {
  const usage = request.robutler?.usage
  const status = reply.statusCode
  const durationMs = Math.round(reply.elapsedTime * 100) / 100
  const agent = (request.params as { agent?: string } | undefined)?.agent ?? null
  request.log.info({ method: request.method, url: request.url, status, agent, durationMs, tokens: usage?.total_tokens || undefined }, 'request')
  if (kernel.events.has('request:end')) {
    kernel.events.emit(
      'request:end',
      { requestId: request.id, method: request.method, route: request.routeOptions.url ?? 'unknown', status, agent, durationMs })
  }
}
