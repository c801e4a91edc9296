// Chat Completions, the kernel's own surface: `POST /{agent}/chat/completions`, and `POST /chat/completions` with
// the agent as the `model` (one base URL for every agent, as OpenAI-compatible tools expect). Both run the agent
// the same way: a whole chat.completion, or chunks as server-sent events.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ChatChunks, chatCompletion } from './chat-render.js'
import { parseChatRequest } from './chat-request.js'
import { ERR_UNSUPPORTED_MEDIA_TYPE } from './errors.js'
import type { Kernel } from './kernel.js'
import type { Session } from './session.js'
import type { AgentSession } from './surface-types.js'

function modelOf(request: FastifyRequest): unknown {
  return (request.body as { model?: unknown }).model
}

export function registerChatRoutes(kernel: Kernel): void {
  async function chatCompletions(agentSession: AgentSession, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    // Fastify also parses text/plain; the chat API takes JSON only.
    if (typeof request.body === 'string') throw ERR_UNSUPPORTED_MEDIA_TYPE(String(request.headers['content-type']).slice(0, 100))
    const body = parseChatRequest(request.body)
    const session = agentSession as Session
    if (!body.stream) return chatCompletion((await session.run(body))!, kernel.completionId())
    const chunks = new ChatChunks(session.built, session.context, session.sse(), kernel.completionId(), body.includeUsage)
    await session.run(body, (event) => chunks.event(event))
    return reply
  }

  kernel.surfaces.add('the kernel', {
    name: 'chat',
    agent: [{ method: 'POST', path: '/chat/completions', handler: chatCompletions }],
    model: [{ method: 'POST', path: '/chat/completions', agentOf: modelOf, handler: chatCompletions }],
  })
}
