// Agent routes: GET /{agent}, GET /{agent}/health and skills' own routes (chat is a surface: routes-chat.ts).
import type { FastifyReply, FastifyRequest } from 'fastify'
import { admit, findAgent, mayList, newContext, notFound } from './admission.js'
import type { BuiltRoute } from './agent-build.js'
import { scopeAllows } from './auth.js'
import { contextStorage } from './context.js'
import { ERR_FORBIDDEN, ERR_ROUTE_NOT_FOUND, ERR_UNAUTHENTICATED } from './errors.js'
import type { Kernel } from './kernel.js'
import type { Context } from './request-context.js'
import type { RouteConfig } from './surfaces.js'
import type { Identity } from './types.js'

/** Routes that serve the agent of their path (rate limits count them). */
const AGENT_ROUTE: RouteConfig = { robutler: { agent: 'path' } }

type AgentRequest = FastifyRequest<{ Params: { agent: string; '*'?: string } }>

async function runSkillRoute(built: BuiltRoute, ctx: Context, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const result = await built.route.handler(request, reply, ctx)
  return reply.sent ? reply : result
}

/** The caller's identity where a bad credential is no error, only no identity (a public route). */
async function quietIdentity(kernel: Kernel, request: FastifyRequest): Promise<Identity | null> {
  if (!kernel.auth.enabled) return null
  try {
    return await kernel.auth.identify(request)
  } catch {
    // Refused or unverifiable credentials: the route is public, so the caller is simply anonymous here.
    return null
  }
}

export function registerAgentRoutes(kernel: Kernel): void {
  const { app } = kernel
  const prefix = kernel.settings.urlPrefix

  app.get(`${prefix}/:agent`, { config: AGENT_ROUTE }, async function agentInfo(request: AgentRequest, reply: FastifyReply) {
    const admitted = admit(kernel, request, request.params.agent)
    const { agent, scope } = admitted instanceof Promise ? await admitted : admitted
    return reply.type('application/json; charset=utf-8').send(agent.views[scope].infoJson)
  })

  // Public (load balancers probe it): a caller who may not use the agent learns only whether it is up.
  app.get(`${prefix}/:agent/health`, async function agentHealth(request: AgentRequest) {
    const found = findAgent(kernel, request, request.params.agent)
    const agent = found instanceof Promise ? await found : found
    if (!agent) throw notFound(request.params.agent, 'path')
    const status = kernel.draining ? 'draining' : 'healthy'
    if (!mayList(agent, await quietIdentity(kernel, request))) return { status }
    return { status, agent: agent.name, model: agent.config.model }
  })

  app.all(`${prefix}/:agent/*`, { config: AGENT_ROUTE }, async function skillRoute(request: AgentRequest, reply: FastifyReply) {
    const pending = admit(kernel, request, request.params.agent)
    const admitted = pending instanceof Promise ? await pending : pending
    const { agent, identity, scope } = admitted
    const path = `/${request.params['*'] ?? ''}`
    const found = agent.router?.find(request.method as 'GET', path)
    if (!found) throw ERR_ROUTE_NOT_FOUND(request.method, request.url.slice(0, 200))
    const built = found.store as BuiltRoute
    const needed = built.route.scope ?? 'all'
    if (!scopeAllows(scope, needed)) {
      throw identity ? ERR_FORBIDDEN(`${request.method} ${path} of agent '${agent.name}' needs scope '${needed}'`) : ERR_UNAUTHENTICATED(`${request.method} ${path} needs an API key`)
    }
    ;(request.params as Record<string, unknown>) = { ...found.params, agent: agent.name }
    const ctx = newContext(kernel, request, reply, admitted, 'route')
    return kernel.asyncContext ? contextStorage.run(ctx, runSkillRoute, built, ctx, request, reply) : runSkillRoute(built, ctx, request, reply)
  })
}
