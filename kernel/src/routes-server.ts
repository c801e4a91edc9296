// Server-level routes under the prefix: index, health, liveness, readiness, info, agent listing, and the agents
// as OpenAI models (`GET /models`, `GET /models/{agent}`) for clients given one base URL.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { mapLimit } from '@robutler/registry'
import { identify, mayList, resolveAgent } from './admission.js'
import type { BuiltAgent } from './agent-build.js'
import type { Kernel } from './kernel.js'
import type { AgentSummary } from './surface-types.js'
import type { Identity } from './types.js'

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

/** The static agents this caller may use: what every listing shows it (a restricted agent is not named to others). */
function visibleAgents(kernel: Kernel, identity: Identity | null): BuiltAgent[] {
  const list: BuiltAgent[] = []
  for (const agent of kernel.agents.static.values()) if (mayList(agent, identity)) list.push(agent)
  return list
}

/** The caller's identity for a listing (401 for a bad credential, as on the agent routes). */
function caller(kernel: Kernel, request: FastifyRequest): Identity | null | Promise<Identity | null> {
  return kernel.auth.enabled ? kernel.auth.identify(request) : null
}

/** Dynamic agents built at once while listing: a listing of many loads them through the cache, a few at a time. */
const LIST_CONCURRENCY = 8

/**
 * The agents a caller may see: the static ones, then those the loaders that can list name (each loaded through
 * the agent cache; one that fails to load is left out), and the loaders that cannot list.
 */
async function listedAgents(kernel: Kernel, identity: Identity | null): Promise<{ agents: BuiltAgent[]; unlisted: string[] }> {
  const agents = visibleAgents(kernel, identity)
  if (!kernel.agents.dynamicEnabled) return { agents, unlisted: [] }
  const { names, unlisted } = await kernel.agents.listDynamic()
  const loaded = await mapLimit(names, LIST_CONCURRENCY, async (name) => {
    try {
      return await kernel.agents.resolve(name)
    } catch {
      // An agent whose record is invalid or whose source is down is answered when asked for by name, not here.
      return null
    }
  })
  for (const agent of loaded) if (agent && mayList(agent, identity)) agents.push(agent)
  return { agents, unlisted }
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
  app.get(prefix || '/', async function index(request: FastifyRequest) {
    const agents = visibleAgents(kernel, await caller(kernel, request)).map((agent) => agent.name)
    return { title: settings.title, version: kernel.version, agents, endpoints }
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

  app.get(`${prefix}/info`, async function info(request: FastifyRequest) {
    // The providers and skills of the agents this caller may use, not the server's whole inventory.
    const agents = visibleAgents(kernel, await caller(kernel, request))
    const providers = new Set(agents.flatMap((agent) => agent.targets.map((target) => target.prefix)))
    return {
      title: settings.title,
      version: kernel.version,
      url_prefix: prefix,
      uptime_seconds: Math.floor((Date.now() - kernel.startedAt) / 1000),
      agents_count: agents.length,
      agents: agents.map((agent) => agent.name),
      dynamic_agents_enabled: kernel.agents.dynamicEnabled,
      providers: kernel.providers.prefixes().filter((prefix) => providers.has(prefix)),
      skills: [...new Set(agents.flatMap((agent) => agent.skills))],
      endpoints,
    }
  })

  app.get(`${prefix}/agents`, async function agents(request: FastifyRequest) {
    const { agents: visible, unlisted } = await listedAgents(kernel, await caller(kernel, request))
    const list = []
    for (const agent of visible) {
      list.push({
        name: agent.name,
        description: agent.config.description ?? '',
        model: agent.config.model,
        skills: agent.skills,
        endpoints: { info: `${prefix}/${agent.name}`, chat: `${prefix}/${agent.name}/chat/completions` },
      })
    }
    // Loaders that cannot list (an HTTP portal) still serve their agents by name: the listing says it is partial.
    return {
      object: 'list',
      data: list,
      total: list.length,
      dynamic_agents_enabled: kernel.agents.dynamicEnabled,
      dynamic_agents_listed: unlisted.length === 0,
      unlisted_loaders: unlisted,
    }
  })

  // OpenAI's model objects: `created` is when this server started (an agent has no creation date of its own).
  const created = Math.floor(kernel.startedAt / 1000)
  const model = (agent: AgentSummary) => ({ id: agent.name, object: 'model', created, owned_by: agent.owner ?? 'robutler' })

  app.get(`${prefix}/models`, async function models(request: FastifyRequest) {
    const { agents: visible } = await listedAgents(kernel, await identify(kernel, request))
    return { object: 'list', data: visible.map((agent) => model(agent.summary)) }
  })

  app.get(`${prefix}/models/:agent`, async function oneModel(request: FastifyRequest<{ Params: { agent: string } }>) {
    const identity = await identify(kernel, request)
    const { agent } = await resolveAgent(kernel, request, request.params.agent, 'model', identity)
    return model(agent.summary)
  })
}
