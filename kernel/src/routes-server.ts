// Server-level routes under the prefix: index, health, liveness, readiness, info, agent listing, and the agents
// as OpenAI models (`GET /models`, `GET /models/{agent}`) for clients given one base URL.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { identify, mayList, resolveAgent } from './admission.js'
import type { Kernel } from './kernel.js'
import type { AgentSummary } from './surface-types.js'

const READY_CHECK_TIMEOUT_MS = 2_000

async function runCheck(kernel: Kernel, name: string): Promise<[string, { status: 'ok' } | { status: 'failing'; error: string }]> {
  const check = kernel.healthChecks.get(name)!
  const signal = AbortSignal.timeout(READY_CHECK_TIMEOUT_MS)
  try {
    await Promise.race([
      check(signal),
      new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error(`timed out after ${READY_CHECK_TIMEOUT_MS} ms`)), { once: true })),
    ])
    return [name, { status: 'ok' }]
  } catch (error: any) {
    return [name, { status: 'failing', error: String(error?.message ?? error).slice(0, 200) }]
  }
}

export function registerServerRoutes(kernel: Kernel): void {
  const { app, settings } = kernel
  const prefix = settings.urlPrefix
  const endpoints = {
    health: `${prefix}/health`,
    live: `${prefix}/live`,
    ready: `${prefix}/ready`,
    info: `${prefix}/info`,
    agents: `${prefix}/agents`,
    agent: `${prefix}/{agent}`,
    chat: `${prefix}/{agent}/chat/completions`,
    models: `${prefix}/models`,
    chat_completions: `${prefix}/chat/completions`,
  }
  const agentNames = () => [...kernel.agents.static.keys()]

  app.get(prefix || '/', function index() {
    return { title: settings.title, version: kernel.version, agents: agentNames(), endpoints }
  })

  app.get(`${prefix}/health`, function health(_request: FastifyRequest, reply: FastifyReply) {
    if (kernel.draining) reply.code(503)
    return {
      status: kernel.draining ? 'draining' : 'healthy',
      version: kernel.version,
      uptime_seconds: Math.floor((Date.now() - kernel.startedAt) / 1000),
      agents_count: kernel.agents.static.size,
      dynamic_agents_enabled: kernel.agents.dynamicEnabled,
    }
  })

  app.get(`${prefix}/live`, function live(_request: FastifyRequest, reply: FastifyReply) {
    if (kernel.draining) return reply.code(503).send({ status: 'draining' })
    return { status: 'alive' }
  })

  app.get(`${prefix}/ready`, async function ready(_request: FastifyRequest, reply: FastifyReply) {
    const checks = Object.fromEntries(await Promise.all([...kernel.healthChecks.keys()].map((name) => runCheck(kernel, name))))
    const failing = Object.entries(checks).filter(([, c]) => c.status !== 'ok').map(([name]) => name)
    const status = kernel.draining ? 'draining' : !kernel.booted ? 'starting' : failing.length > 0 ? 'not_ready' : 'ready'
    if (status !== 'ready') reply.code(503)
    return { status, checks, failing }
  })

  app.get(`${prefix}/info`, function info() {
    return {
      title: settings.title,
      version: kernel.version,
      url_prefix: prefix,
      uptime_seconds: Math.floor((Date.now() - kernel.startedAt) / 1000),
      agents_count: kernel.agents.static.size,
      agents: agentNames(),
      dynamic_agents_enabled: kernel.agents.dynamicEnabled,
      providers: kernel.providers.prefixes(),
      skills: [...kernel.skills.keys()],
      endpoints,
    }
  })

  app.get(`${prefix}/agents`, async function agents(request: FastifyRequest) {
    const identity = kernel.auth.enabled ? await kernel.auth.identify(request) : null
    const list = []
    for (const agent of kernel.agents.static.values()) {
      if (!mayList(agent, identity)) continue
      list.push({
        name: agent.name,
        description: agent.config.description ?? '',
        model: agent.config.model,
        skills: agent.skills,
        endpoints: { info: `${prefix}/${agent.name}`, chat: `${prefix}/${agent.name}/chat/completions` },
      })
    }
    return { object: 'list', data: list, total: list.length, dynamic_agents_enabled: kernel.agents.dynamicEnabled }
  })

  // OpenAI's model objects: `created` is when this server started (an agent has no creation date of its own).
  const created = Math.floor(kernel.startedAt / 1000)
  const model = (agent: AgentSummary) => ({ id: agent.name, object: 'model', created, owned_by: agent.owner ?? 'robutler' })

  app.get(`${prefix}/models`, async function models(request: FastifyRequest) {
    const identity = await identify(kernel, request)
    const data = []
    for (const agent of kernel.agents.static.values()) if (mayList(agent, identity)) data.push(model(agent.summary))
    return { object: 'list', data }
  })

  app.get(`${prefix}/models/:agent`, async function oneModel(request: FastifyRequest<{ Params: { agent: string } }>) {
    const identity = await identify(kernel, request)
    const { agent } = await resolveAgent(kernel, request, request.params.agent, 'model', identity)
    return model(agent.summary)
  })
}
