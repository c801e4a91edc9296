// @robutler/plugin-messages: the Anthropic Messages API as a surface over the agent loop. Claude Code and the
// Anthropic SDKs talk to any agent, whatever model it runs on: `POST {urlPrefix}/v1/messages` with the agent as
// `model`, or `POST {urlPrefix}/{agent}/v1/messages`; count_tokens beside each; `GET {urlPrefix}/v1/models`.
import { definePlugin, type AgentRouteHandler, type ServerRouteHandler } from '@robutler/kernel'
import type { FastifyRequest } from 'fastify'
import { messageOf } from './answer.js'
import { renderError } from './errors.js'
import { messageIds } from './ids.js'
import { Keepalive } from './keepalive.js'
import { Models } from './models.js'
import { parseMessagesRequest } from './request.js'
import { MessageStream } from './stream.js'

export interface MessagesConfig {
  /** Seconds a stream may stay silent before it gets a `ping` event (default 5). */
  pingInterval?: number
}

const DEFAULT_PING_SECONDS = 5

function modelOf(request: FastifyRequest): unknown {
  return (request.body as { model?: unknown }).model
}

export default definePlugin<MessagesConfig>({
  name: 'messages',
  register(kernel, config) {
    const keepalive = new Keepalive((config?.pingInterval ?? DEFAULT_PING_SECONDS) * 1000)
    kernel.onClose(() => keepalive.close())
    const nextId = messageIds()
    const models = new Models(new Date())

    const create: AgentRouteHandler = async (session, request, reply) => {
      const { input, stream } = parseMessagesRequest(request.body)
      if (!stream) return messageOf((await session.run(input))!, nextId())
      const out = new MessageStream(session.sse(), nextId(), session.agent.model)
      keepalive.watch(out)
      try {
        await session.run(input, (event) => out.event(event))
      } finally {
        keepalive.forget(out)
      }
      return reply
    }

    const countTokens: AgentRouteHandler = async (session, request, reply) => {
      const { input } = parseMessagesRequest(request.body, true)
      const count = await session.countTokens(input)
      // Whether the provider counted them or the kernel estimated: the API's answer has no field for it.
      reply.header('x-robutler-token-count', count.exact ? 'exact' : 'estimate')
      return { input_tokens: count.tokens }
    }

    const listModels: ServerRouteHandler = (call, request) => models.list(call, request)
    const oneModel: ServerRouteHandler = (call, request) => models.retrieve(call, request as FastifyRequest<{ Params: { id: string } }>)

    kernel.surfaces.add({
      agent: [
        { method: 'POST', path: '/v1/messages', handler: create },
        { method: 'POST', path: '/v1/messages/count_tokens', handler: countTokens },
      ],
      model: [
        { method: 'POST', path: '/v1/messages', agentOf: modelOf, handler: create },
        { method: 'POST', path: '/v1/messages/count_tokens', agentOf: modelOf, handler: countTokens },
      ],
      server: [
        { method: 'GET', path: '/v1/models', handler: listModels },
        { method: 'GET', path: '/v1/models/:id', handler: oneModel },
      ],
      errors: renderError,
    })
  },
})

export { renderError }
