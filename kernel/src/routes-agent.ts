// Agent routes: GET /{agent}, GET /{agent}/health, POST /{agent}/chat/completions, and skills' own routes.
import type { ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { BuiltAgent, BuiltRoute } from './agent-build.js'
import { callerScope, mayUseAgent, scopeAllows } from './auth.js'
import { parseChatRequest, type ChatRequest } from './chat-request.js'
import { contextStorage } from './context.js'
import { ERR_AGENT_NOT_FOUND, ERR_DRAINING, ERR_FORBIDDEN, ERR_ROUTE_NOT_FOUND, ERR_UNAUTHENTICATED, ERR_UNSUPPORTED_MEDIA_TYPE, isRobutlerError, RobutlerError } from './errors.js'
import { runHooks } from './hooks.js'
import type { Kernel } from './kernel.js'
import { completeChat, streamChat } from './runtime.js'
import { SseSink } from './sse.js'
import { logRequestEnd } from './request-log.js'
import { Context } from './request-context.js'
import type { Identity, Scope } from './types.js'

type AgentRequest = FastifyRequest<{ Params: { agent: string; '*'?: string } }>

/** The abort reason when the client goes away: nothing is sent, the work stops. */
export class ClientClosedError extends Error {
  constructor() {
    super('The client closed the connection')
    this.name = 'AbortError'
  }
}

interface Tracked {
  kernel: Kernel
  reply: FastifyReply
  context: Context
}

// A property on the response, not a WeakMap keyed by it: V8's scavenger kept every request's objects reachable
// from WeakMap entries alive until a full GC (17% of the young generation survived each scavenge, 8 ms pauses;
// 0.1% and 0.5 ms without it).
const TRACKED = Symbol('robutler.tracked')
type TrackedResponse = ServerResponse & { [TRACKED]?: Tracked }

function onResponseClose(this: TrackedResponse): void {
  const t = this[TRACKED]
  if (!t) return
  t.kernel.inflight.delete(t.context)
  if (!this.writableFinished) {
    t.context.abort(new ClientClosedError())
    logRequestEnd(t.kernel, t.reply.request, t.reply, true)
  }
}

/**
 * Counts the request in flight (the drain waits for it and the timeout sweep watches its deadline) and aborts
 * it when the client disconnects.
 */
function track(kernel: Kernel, reply: FastifyReply, context: Context): void {
  const raw = reply.raw as TrackedResponse
  raw[TRACKED] = { kernel, reply, context }
  kernel.inflight.add(context)
  // 'close' comes once per response; a plain listener needs no once-wrapper.
  raw.on('close', onResponseClose)
}

function notFound(name: string): RobutlerError {
  return ERR_AGENT_NOT_FOUND(name.length > 80 ? `${name.slice(0, 80)}…` : name)
}

function resolved(kernel: Kernel, request: FastifyRequest, agent: string, source: 'static' | 'cache' | 'loader', started: number): void {
  if (!kernel.events.has('agent:resolved')) return
  const durationMs = started === 0 ? 0 : performance.now() - started
  kernel.events.emit('agent:resolved', { requestId: request.id, agent, source, durationMs })
}

interface Admission {
  agent: BuiltAgent
  identity: Identity | null
  scope: Scope
}

/**
 * Resolves the agent and the caller's identity and scope on it; 401/403/404/503 as they apply. Synchronous when
 * nothing needs waiting for (no authenticator, an agent already built): the common request pays no promise.
 */
function admit(kernel: Kernel, request: AgentRequest): Admission | Promise<Admission> {
  if (kernel.draining) {
    const error = ERR_DRAINING()
    error.retryAfter = 5
    throw error
  }
  if (kernel.auth.enabled) return kernel.auth.identify(request).then((identity) => resolveAgent(kernel, request, identity))
  return resolveAgent(kernel, request, null)
}

function resolveAgent(kernel: Kernel, request: AgentRequest, identity: Identity | null): Admission | Promise<Admission> {
  const found = kernel.agents.resolve(request.params.agent)
  if (found instanceof Promise) {
    const started = performance.now()
    return found.then((agent) => {
      if (agent) resolved(kernel, request, agent.name, 'loader', started)
      return admitTo(request, agent, identity)
    })
  }
  if (found) resolved(kernel, request, found.name, kernel.agents.static.has(found.name) ? 'static' : 'cache', 0)
  return admitTo(request, found, identity)
}

function admitTo(request: AgentRequest, agent: BuiltAgent | null, identity: Identity | null): Admission {
  if (!agent) throw notFound(request.params.agent)
  if (agent.requireIdentity && !identity) throw ERR_UNAUTHENTICATED(`Agent '${agent.name}' needs an API key`)
  const scope = callerScope(identity, agent)
  if (!mayUseAgent(identity, scope, agent)) {
    throw identity ? ERR_FORBIDDEN(`This key may not use agent '${agent.name}'`) : ERR_UNAUTHENTICATED(`Agent '${agent.name}' needs an API key`)
  }
  return { agent, identity, scope }
}

function newContext(kernel: Kernel, request: FastifyRequest, reply: FastifyReply, identity: Identity | null, scope: Scope, agent: string): Context {
  const ctx = new Context(request.id, identity, scope, agent, Date.now() + kernel.settings.requestTimeoutMs, request.log as Logger)
  request.robutler = ctx
  track(kernel, reply, ctx)
  return ctx
}

/** The error a client gets for an aborted or failed request. */
function failure(error: unknown, ctx: Context): unknown {
  // The abort's own reason, not whatever the aborted work threw (a Node AbortError from a drain wait, say).
  if (ctx.aborted && (isRobutlerError(ctx.abortReason) || ctx.abortReason instanceof ClientClosedError)) return ctx.abortReason
  return error
}

async function runChat(kernel: Kernel, agent: BuiltAgent, ctx: Context, body: ChatRequest, reply: FastifyReply): Promise<unknown> {
  let error: unknown
  try {
    if (agent.hooks.onConnection.length > 0) await runHooks(agent.hooks.onConnection, ctx)
    if (!body.stream) return await completeChat(agent, ctx, body, kernel.runtimeDeps)
    const sink = new SseSink(reply, ctx)
    try {
      await streamChat(agent, ctx, body, sink, kernel.runtimeDeps)
    } catch (streamError) {
      if (!sink.started) throw streamError
      error = failure(streamError, ctx)
      reply.request.robutlerError = isRobutlerError(error) ? error.code : error instanceof ClientClosedError ? null : 'RBT_ERR_INTERNAL'
      // A client that left may have half-closed the socket: end it, or the connection never turns idle and a
      // later close() waits for it forever.
      if (error instanceof ClientClosedError) reply.raw.destroy()
      else {
        const pub = isRobutlerError(error) ? error : kernel.publicError(error, reply.request)
        if (pub.statusCode >= 500 && !isRobutlerError(error)) ctx.log.error({ err: error }, 'stream failed')
        sink.fail(pub)
      }
    }
    return reply
  } catch (thrown) {
    error = failure(thrown, ctx)
    throw error
  } finally {
    if (agent.hooks.finalizeConnection.length > 0) {
      const status = error ? (isRobutlerError(error) ? error.statusCode : 500) : 200
      try {
        await runHooks(agent.hooks.finalizeConnection, ctx, { error, status })
      } catch (hookError) {
        ctx.log.error({ err: hookError }, 'finalizeConnection hook failed')
      }
    }
  }
}

async function runSkillRoute(built: BuiltRoute, ctx: Context, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const result = await built.route.handler(request, reply, ctx)
  return reply.sent ? reply : result
}

export function registerAgentRoutes(kernel: Kernel): void {
  const { app } = kernel
  const prefix = kernel.settings.urlPrefix

  app.get(`${prefix}/:agent`, async function agentInfo(request: AgentRequest, reply: FastifyReply) {
    const admitted = admit(kernel, request)
    const { agent, scope } = admitted instanceof Promise ? await admitted : admitted
    return reply.type('application/json; charset=utf-8').send(agent.views[scope].infoJson)
  })

  app.get(`${prefix}/:agent/health`, async function agentHealth(request: AgentRequest) {
    const found = kernel.agents.resolve(request.params.agent)
    const agent = found instanceof Promise ? await found : found
    if (!agent) throw notFound(request.params.agent)
    return { status: kernel.draining ? 'draining' : 'healthy', agent: agent.name, model: agent.config.model }
  })

  app.post(`${prefix}/:agent/chat/completions`, async function chatCompletions(request: AgentRequest, reply: FastifyReply) {
    const admitted = admit(kernel, request)
    const { agent, identity, scope } = admitted instanceof Promise ? await admitted : admitted
    // Fastify also parses text/plain; the chat API takes JSON only.
    if (typeof request.body === 'string') throw ERR_UNSUPPORTED_MEDIA_TYPE(String(request.headers['content-type']).slice(0, 100))
    const body = parseChatRequest(request.body)
    const ctx = newContext(kernel, request, reply, identity, scope, agent.name)
    return kernel.asyncContext ? contextStorage.run(ctx, runChat, kernel, agent, ctx, body, reply) : runChat(kernel, agent, ctx, body, reply)
  })

  app.all(`${prefix}/:agent/*`, async function skillRoute(request: AgentRequest, reply: FastifyReply) {
    const admitted = admit(kernel, request)
    const { agent, identity, scope } = admitted instanceof Promise ? await admitted : admitted
    const path = `/${request.params['*'] ?? ''}`
    const found = agent.router?.find(request.method as 'GET', path)
    if (!found) throw ERR_ROUTE_NOT_FOUND(request.method, request.url.slice(0, 200))
    const built = found.store as BuiltRoute
    const needed = built.route.scope ?? 'all'
    if (!scopeAllows(scope, needed)) {
      throw identity ? ERR_FORBIDDEN(`${request.method} ${path} of agent '${agent.name}' needs scope '${needed}'`) : ERR_UNAUTHENTICATED(`${request.method} ${path} needs an API key`)
    }
    ;(request.params as Record<string, unknown>) = { ...found.params, agent: agent.name }
    const ctx = newContext(kernel, request, reply, identity, scope, agent.name)
    return kernel.asyncContext ? contextStorage.run(ctx, runSkillRoute, built, ctx, request, reply) : runSkillRoute(built, ctx, request, reply)
  })
}
