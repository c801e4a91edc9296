// @robutler/plugin-responses: the OpenAI Responses API as a surface over the agent loop. The openai SDKs'
// `client.responses`, the OpenAI Agents SDK and Codex CLI talk to any agent: `POST {urlPrefix}/responses` with the
// agent as `model`, or `POST {urlPrefix}/{agent}/responses`. Responses are stored (memory or PostgreSQL), chained
// with `previous_response_id`, kept in conversations, run in the background and streamed again from any event.
import { definePlugin, type AgentRouteHandler, type KernelApi } from '@robutler/kernel'
import type { FastifyRequest } from 'fastify'
import { BackgroundRuns } from './background.js'
import { conversationRoutes } from './conversations.js'
import { create } from './create.js'
import { MemoryStore } from './memory-store.js'
import { PostgresStore } from './postgres-store.js'
import { RedisEvents, withRedisEvents } from './redis-events.js'
import { responseRoutes } from './routes.js'
import type { ResponseStore } from './store.js'

export interface ResponsesConfig {
  database?: string
  redis?: string | false
  tablePrefix?: string
  retentionDays?: number
  leaseSeconds?: number
  durableWrites?: boolean
  memory?: { maxResponses?: number; maxBytes?: number }
  maxInputItems?: number
}

const DAY_MS = 86_400_000

function modelOf(request: FastifyRequest): unknown {
  return (request.body as { model?: unknown }).model
}

async function openStore(kernel: KernelApi, config: ResponsesConfig): Promise<ResponseStore> {
  const database = config.database ?? kernel.env.DATABASE_URL
  const prefix = config.tablePrefix ?? 'robutler_responses'
  const store = database
    ? await PostgresStore.open(database, prefix, kernel.log, config.durableWrites === true)
    : new MemoryStore(config.memory?.maxResponses ?? 10_000, config.memory?.maxBytes ?? 64 * 1024 * 1024)
  const redis = config.redis === false ? undefined : (config.redis ?? kernel.env.REDIS_URL)
  if (!redis) return store
  try {
    const ttlSeconds = Math.ceil((config.retentionDays ?? 30) * 86_400)
    return withRedisEvents(store, await RedisEvents.open(redis, prefix, ttlSeconds, kernel.log))
  } catch (error) {
    await store.close()
    throw error
  }
}

export default definePlugin<ResponsesConfig>({
  name: 'responses',
  async register(kernel, config = {}) {
    const store = await openStore(kernel, config)
    const runs = new BackgroundRuns(store, (config.leaseSeconds ?? 30) * 1000, kernel.log)
    const retentionMs = (config.retentionDays ?? 30) * DAY_MS
    const maxItems = config.maxInputItems ?? 10_000
    // Runs whose process died (their lease ran out) end failed; then, now and then, what is past retention goes.
    await runs.sweep()
    await store.expire(Date.now() - retentionMs)
    const expiry = setInterval(() => {
      store.expire(Date.now() - retentionMs).catch((error: unknown) => kernel.log.warn({ err: error }, 'responses: expiry failed'))
    }, Math.min(retentionMs, 3_600_000))
    expiry.unref()
    kernel.onClose(async () => {
      clearInterval(expiry)
      await runs.close()
      await store.close()
    })
    kernel.health.add('responses-store', () => store.getResponse('resp_health').then(() => undefined))

    const deps = { store, runs, maxItems }
    const createRoute: AgentRouteHandler = (session, request, reply) => create(deps, session, request, reply)
    const responses = responseRoutes(store, runs)
    const conversations = conversationRoutes(store, maxItems)
    kernel.surfaces.add({
      agent: [{ method: 'POST', path: '/responses', handler: createRoute }],
      model: [{ method: 'POST', path: '/responses', agentOf: modelOf, handler: createRoute }],
      server: [
        { method: 'GET', path: '/responses/:id', handler: responses.retrieve },
        { method: 'DELETE', path: '/responses/:id', handler: responses.remove },
        { method: 'GET', path: '/responses/:id/input_items', handler: responses.inputItems },
        { method: 'POST', path: '/responses/:id/cancel', handler: responses.cancel },
        { method: 'POST', path: '/conversations', handler: conversations.createOne },
        { method: 'GET', path: '/conversations/:id', handler: conversations.retrieve },
        { method: 'POST', path: '/conversations/:id', handler: conversations.update },
        { method: 'DELETE', path: '/conversations/:id', handler: conversations.remove },
        { method: 'GET', path: '/conversations/:id/items', handler: conversations.listItems },
        { method: 'POST', path: '/conversations/:id/items', handler: conversations.addItems },
        { method: 'GET', path: '/conversations/:id/items/:item', handler: conversations.getItem },
        { method: 'DELETE', path: '/conversations/:id/items/:item', handler: conversations.deleteItem },
      ],
    })
  },
})

export { MemoryStore, PostgresStore }
export type { ResponseStore }
