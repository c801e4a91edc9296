// Protocol surfaces: routes a plugin (or the kernel, for Chat Completions) adds over the agent loop. Each route
// gets admission (draining, identity, the agent and its access rules), a tracked context, and a Session that runs
// the loop. Server-level paths reserve their first segment: no agent may take that name while they are served.
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { admit, identify, mayList, newContext, resolveAgent, type Admission } from './admission.js'
import { ERR_INVALID_REQUEST, ERR_SURFACE_INVALID, ERR_UNSUPPORTED_MEDIA_TYPE, type RobutlerError } from './errors.js'
import type { Kernel } from './kernel.js'
import { Session } from './session.js'
import type { AgentRouteHandler, AgentSession, AgentSummary, ErrorRenderer, SurfaceCall, SurfaceDefinition } from './surface-types.js'
import type { Identity } from './types.js'

/** How a route names the agent it serves, as plugins (rate limits) read it from `routeOptions.config.robutler`. */
export type RouteAgent = 'path' | 'model' | 'none'

export interface RouteConfig {
  /** `errors`: the surface's error renderer, when it has one (the kernel's error handler uses it). */
  robutler?: { agent: RouteAgent; errors?: ErrorRenderer }
}

type AgentParams = { agent?: string }

function firstSegment(path: string): string {
  return path.split('/')[1] ?? ''
}

function checkPath(owner: string, path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.length < 2) {
    throw ERR_SURFACE_INVALID(owner, `route path ${JSON.stringify(path)} must start with / and name something`)
  }
  return path
}

function session(kernel: Kernel, request: FastifyRequest, reply: FastifyReply, admitted: Admission, surface: string): Session {
  return new Session(kernel, admitted.agent, newContext(kernel, request, reply, admitted, surface), reply)
}

/** A surface's name in usage records and events: its own, else its plugin's package name without `@scope/plugin-`. */
function surfaceName(owner: string, definition: SurfaceDefinition): string {
  if (typeof definition.name === 'string' && definition.name.length > 0) return definition.name
  return owner.replace(/^@[^/]+\//, '').replace(/^(robutler-)?plugin-/, '')
}

function summaries(kernel: Kernel, identity: Identity | null): AgentSummary[] {
  const list: AgentSummary[] = []
  for (const agent of kernel.agents.static.values()) if (mayList(agent, identity)) list.push(agent.summary)
  return list
}

/** What a server route's handler gets: the caller, and a way to open one agent. */
class Call implements SurfaceCall {
  readonly #kernel: Kernel
  readonly #request: FastifyRequest
  readonly #reply: FastifyReply
  readonly identity: Identity | null
  readonly #surface: string
  #opened = false

  constructor(kernel: Kernel, request: FastifyRequest, reply: FastifyReply, identity: Identity | null, surface: string) {
    this.#kernel = kernel
    this.#surface = surface
    this.#request = request
    this.#reply = reply
    this.identity = identity
  }

  async open(name: string): Promise<AgentSession> {
    if (this.#opened) throw new Error('SurfaceCall.open: one agent per request')
    this.#opened = true
    const admitted = await resolveAgent(this.#kernel, this.#request, name, 'model', this.identity)
    ;(this.#request.params as AgentParams).agent = admitted.agent.name
    return session(this.#kernel, this.#request, this.#reply, admitted, this.#surface)
  }

  agents(): AgentSummary[] {
    return summaries(this.#kernel, this.identity)
  }
}

function badModel(given: unknown): RobutlerError {
  const error = ERR_INVALID_REQUEST(
    given === undefined ? "Missing required parameter: 'model' (the name of an agent)" : "Invalid parameter 'model': it must be a string, the name of an agent",
  )
  error.param = 'model'
  return error
}

/** Answers a request for an admitted agent: the session, then the surface's handler. */
function serveAdmitted(kernel: Kernel, handler: AgentRouteHandler, request: FastifyRequest, reply: FastifyReply, admitted: Admission, surface: string): unknown {
  return handler(session(kernel, request, reply, admitted, surface), request, reply)
}

export class Surfaces {
  readonly #kernel: Kernel
  /** Agent names that are routes of their own, and who serves them. */
  readonly #reserved = new Map<string, string>()
  /** Routes added while plugins boot, mounted after the last one: a plugin's route hooks (limits) see them all. */
  readonly #routes: RouteOptions[] = []

  constructor(kernel: Kernel, reserved: Iterable<string>) {
    this.#kernel = kernel
    for (const name of reserved) this.#reserved.set(name, 'the kernel')
  }

  /** Who serves a route named `name` under the prefix ('the kernel' or a plugin), or null. */
  reservedBy(name: string): string | null {
    return this.#reserved.get(name) ?? null
  }

  /** Adds a surface's routes (mounted with mount()); `owner` is the plugin adding it. */
  add(owner: string, definition: SurfaceDefinition): void {
    const prefix = this.#kernel.settings.urlPrefix
    const routes = this.#routes
    const errors = definition.errors
    if (errors !== undefined && typeof errors !== 'function') throw ERR_SURFACE_INVALID(owner, 'errors must be a function (error, request) => { status, body }')
    const surface = surfaceName(owner, definition)
    const config = (agent: RouteAgent): RouteConfig => ({ robutler: errors ? { agent, errors } : { agent } })
    for (const route of definition.agent ?? []) {
      const path = checkPath(owner, route.path)
      routes.push({ method: route.method, url: `${prefix}/:agent${path}`, config: config('path'), handler: this.#agentRoute(route.handler, surface) })
    }
    for (const route of definition.model ?? []) {
      const path = checkPath(owner, route.path)
      if (typeof route.agentOf !== 'function') throw ERR_SURFACE_INVALID(owner, `model route ${path} needs agentOf(request)`)
      this.#reserve(firstSegment(path), owner)
      const agentOf = route.agentOf
      routes.push({
        method: route.method,
        url: `${prefix}${path}`,
        config: config('model'),
        // Before other preHandlers (rate limits): from here on the request's agent is known, as in `/{agent}/…`.
        preHandler: function agentOfBody(request, _reply, done) {
          const name = typeof request.body === 'object' && request.body !== null ? agentOf(request) : undefined
          if (typeof name === 'string') (request.params as AgentParams).agent = name
          done()
        },
        handler: this.#modelRoute(agentOf, route.handler, surface),
      })
    }
    for (const route of definition.server ?? []) {
      const path = checkPath(owner, route.path)
      this.#reserve(firstSegment(path), owner)
      const kernel = this.#kernel
      const handler = route.handler
      routes.push({
        method: route.method,
        url: `${prefix}${path}`,
        config: config('none'),
        handler: async function surfaceServerRoute(request, reply) {
          const identity = await identify(kernel, request)
          return handler(new Call(kernel, request, reply, identity, surface), request, reply)
        },
      })
    }
  }

  /** Registers every added route with Fastify. */
  mount(): void {
    for (const route of this.#routes.splice(0)) this.#kernel.app.route(route)
  }

  #reserve(name: string, owner: string): void {
    const holder = this.#reserved.get(name)
    if (holder !== undefined && holder !== owner) throw ERR_SURFACE_INVALID(owner, `'/${name}' is already served by ${holder}`)
    this.#reserved.set(name, owner)
  }

  #agentRoute(handler: AgentRouteHandler, surface: string) {
    const kernel = this.#kernel
    return async function surfaceAgentRoute(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
      const admitted = admit(kernel, request, (request.params as AgentParams).agent!)
      return serveAdmitted(kernel, handler, request, reply, admitted instanceof Promise ? await admitted : admitted, surface)
    }
  }

  #modelRoute(agentOf: (request: FastifyRequest) => unknown, handler: AgentRouteHandler, surface: string) {
    const kernel = this.#kernel
    return async function surfaceModelRoute(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
      // Every protocol that names its agent as a model speaks JSON; Fastify would also hand us text/plain.
      if (typeof request.body === 'string') throw ERR_UNSUPPORTED_MEDIA_TYPE(String(request.headers['content-type']).slice(0, 100))
      const name = (request.params as AgentParams).agent
      if (name === undefined) throw badModel(request.body ? agentOf(request) : undefined)
      const admitted = admit(kernel, request, name, 'model')
      return serveAdmitted(kernel, handler, request, reply, admitted instanceof Promise ? await admitted : admitted, surface)
    }
  }
}

