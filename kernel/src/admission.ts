// Admission to an agent, the same for every route that serves one: not draining, the caller's identity through
// the authenticator chain, the agent (static, cached or loaded), its access rules, the caller's scope on it.
// Then, for a request that runs it, one Context: counted in flight, timed out by the sweep, aborted when the
// client leaves.
import type { ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { BuiltAgent } from './agent-build.js'
import { callerScope, mayUseAgent } from './auth.js'
import {
  ERR_AGENT_INVALID,
  ERR_AGENT_NOT_FOUND,
  ERR_AGENT_UNAVAILABLE,
  ERR_DRAINING,
  ERR_FORBIDDEN,
  ERR_MODEL_NOT_FOUND,
  ERR_UNAUTHENTICATED,
  isRobutlerError,
  type RobutlerError,
} from './errors.js'
import type { Kernel } from './kernel.js'
import { logRequestEnd } from './request-log.js'
import { Context } from './request-context.js'
import type { Identity, Scope } from './types.js'

/** The abort reason when the client goes away: nothing is sent, the work stops. */
export class ClientClosedError extends Error {
  constructor() {
    super('The client closed the connection')
    this.name = 'AbortError'
  }
}

export interface Admission {
  agent: BuiltAgent
  identity: Identity | null
  scope: Scope
}

/** How a request names its agent: in the URL (`/{agent}/…`), or as the `model` of its body. */
export type NamedBy = 'path' | 'model'

function clip(name: string): string {
  return name.length > 80 ? `${name.slice(0, 80)}…` : name
}

export function notFound(name: string, by: NamedBy): RobutlerError {
  return by === 'path' ? ERR_AGENT_NOT_FOUND(clip(name)) : ERR_MODEL_NOT_FOUND(clip(name))
}

function resolved(kernel: Kernel, request: FastifyRequest, agent: string, source: 'static' | 'cache' | 'loader', started: number): void {
  if (!kernel.events.has('agent:resolved')) return
  const durationMs = started === 0 ? 0 : performance.now() - started
  kernel.events.emit('agent:resolved', { requestId: request.id, agent, source, durationMs })
}

/** 503 while draining; else the caller's identity (null: anonymous), or a 401 for a bad credential. */
export function identify(kernel: Kernel, request: FastifyRequest): Identity | null | Promise<Identity | null> {
  if (kernel.draining) throw ERR_DRAINING()
  return kernel.auth.enabled ? kernel.auth.identifyNow(request) : null
}

/**
 * Resolves the agent and the caller's identity and scope on it; 401/403/404/503 as they apply. Synchronous when
 * nothing needs waiting for (no authenticator, an agent already built): the common request pays no promise.
 */
export function admit(kernel: Kernel, request: FastifyRequest, name: string, by: NamedBy = 'path'): Admission | Promise<Admission> {
  const identity = identify(kernel, request)
  if (identity instanceof Promise) return identity.then((found) => resolveAgent(kernel, request, name, by, found))
  return resolveAgent(kernel, request, name, by, identity)
}

/**
 * What a client is told when an agent cannot be loaded: the detail (a loader's error, a path, a host and port, a
 * file's first bytes) goes to the log under the request id, never to the client. A refused record is
 * RBT_ERR_AGENT_INVALID, a loader that failed 503 RBT_ERR_AGENT_UNAVAILABLE; a client error a loader throws on
 * purpose (a RobutlerError below 500) reaches the client as it is.
 */
function loadFailure(request: FastifyRequest, name: string, error: unknown): RobutlerError {
  if (isRobutlerError(error) && error.statusCode < 500) return error
  const invalid = isRobutlerError(error) && error.code === ERR_AGENT_INVALID.code
  request.log.warn({ agent: clip(name), err: error }, invalid ? 'agent config refused' : 'agent could not be loaded')
  return invalid ? ERR_AGENT_INVALID(clip(name), `the server log names the problems (request ${request.id})`) : ERR_AGENT_UNAVAILABLE(clip(name), request.id)
}

/** The agent of that name (null: none), or a promise of it; a load that fails rejects with what the client may see. */
export function findAgent(kernel: Kernel, request: FastifyRequest, name: string): BuiltAgent | null | Promise<BuiltAgent | null> {
  const found = kernel.agents.resolve(name, request.id)
  if (!(found instanceof Promise)) return found
  return found.catch((error: unknown) => {
    throw loadFailure(request, name, error)
  })
}

/** The same, for a caller already identified. */
export function resolveAgent(kernel: Kernel, request: FastifyRequest, name: string, by: NamedBy, identity: Identity | null): Admission | Promise<Admission> {
  const found = findAgent(kernel, request, name)
  if (found instanceof Promise) {
    const started = performance.now()
    return found.then((agent) => {
      if (agent) resolved(kernel, request, agent.name, 'loader', started)
      return admitTo(agent, name, by, identity)
    })
  }
  if (found) resolved(kernel, request, found.name, kernel.agents.static.has(found.name) ? 'static' : 'cache', 0)
  return admitTo(found, name, by, identity)
}

function admitTo(agent: BuiltAgent | null, name: string, by: NamedBy, identity: Identity | null): Admission {
  if (!agent) throw notFound(name, by)
  if (agent.requireIdentity && !identity) throw ERR_UNAUTHENTICATED(`Agent '${agent.name}' needs an API key`)
  const scope = callerScope(identity, agent)
  if (!mayUseAgent(identity, scope, agent)) {
    throw identity ? ERR_FORBIDDEN(`This key may not use agent '${agent.name}'`) : ERR_UNAUTHENTICATED(`Agent '${agent.name}' needs an API key`)
  }
  return { agent, identity, scope }
}

/** True when the caller may see the agent in listings (`/agents`, `/models`). */
export function mayList(agent: BuiltAgent, identity: Identity | null): boolean {
  if (agent.requireIdentity && !identity) return false
  return mayUseAgent(identity, callerScope(identity, agent), agent)
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
 * The context of an admitted request that runs something (the loop, a skill route): counted in flight (the
 * drain waits for it and the timeout sweep watches its deadline), aborted when the client disconnects.
 */
export function newContext(kernel: Kernel, request: FastifyRequest, reply: FastifyReply, admitted: Admission, surface: string): Context {
  const ctx = new Context(request.id, admitted.identity, admitted.scope, admitted.agent.name, surface, Date.now() + kernel.settings.requestTimeoutMs, request.log as Logger)
  request.robutler = ctx
  const raw = reply.raw as TrackedResponse
  raw[TRACKED] = { kernel, reply, context: ctx }
  kernel.inflight.add(ctx)
  // 'close' comes once per response; a plain listener needs no once-wrapper.
  raw.on('close', onResponseClose)
  return ctx
}

/**
 * Lets a context outlive its request (a background run): the response's close no longer aborts it or takes it out
 * of flight; the drain still waits for it and the timeout sweep still watches its deadline. Whoever detaches it
 * takes it out of `kernel.inflight` when the run ends.
 */
export function detachContext(kernel: Kernel, reply: FastifyReply, context: Context): void {
  const raw = reply.raw as TrackedResponse
  raw[TRACKED] = undefined
  raw.off('close', onResponseClose)
  kernel.inflight.add(context)
}
