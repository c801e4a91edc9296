// The hook of counted routes: counts the request in its window (windows.ts: in memory, or leased from Redis), then
// takes a parallel slot. Synchronous when nothing needs waiting for (the count is in memory or in a lease, the
// identity is known at once): the common request pays no promise. Answers 429 through the kernel's error handler.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Identity } from '@robutler/kernel'
import type { Settings, WindowLimit } from './config.js'
import { ERR_RATE_LIMITED, ERR_TOO_MANY_PARALLEL } from './errors.js'
import { callerKey, type IdentifyNow } from './identity.js'
import type { ParallelCap } from './parallel.js'
import type { Verdict, WindowStore } from './windows.js'

export interface LimitHookDeps {
  settings: Settings
  identify: IdentifyNow
  windows: WindowStore
  parallel: ParallelCap | null
  /** Called when the store fails: the request then goes through uncounted (fail open). */
  onStoreError: (error: unknown) => void
  /** Called for each refusal (the plugin emits the kernel's `limit:rejected` event with it). */
  onReject: (request: FastifyRequest, limit: 'rate' | 'parallel', agent: string | null) => void
}

export type LimitHook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

function hasCredential(request: FastifyRequest): boolean {
  return request.headers.authorization !== undefined || request.headers['x-api-key'] !== undefined
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return value instanceof Promise
}

export function createLimitHook(deps: LimitHookDeps): LimitHook {
  const { identify, windows, parallel, onReject, onStoreError } = deps
  const { global, beforeLookup, agents } = deps.settings

  /**
   * Applies a verdict: 429 past the limit; the X-RateLimit-* headers when it refuses or when `last` (the caller's
   * own counter, which the answer describes).
   */
  function apply(verdict: Verdict, request: FastifyRequest, reply: FastifyReply, limit: WindowLimit, caller: string, agent: string | undefined, last: boolean): void {
    if (verdict.allowed && !last) return
    const resetSeconds = Math.ceil(verdict.resetMs / 1000)
    reply.header('x-ratelimit-limit', limit.max)
    reply.header('x-ratelimit-remaining', verdict.remaining)
    reply.header('x-ratelimit-reset', resetSeconds)
    if (verdict.allowed) return
    request.log.debug({ limit: limit.scope, caller, max: limit.max }, 'rate limit exceeded')
    onReject(request, 'rate', agent ?? null)
    throw ERR_RATE_LIMITED(limit.max, limit.label, Math.max(1, resetSeconds))
  }

  /** Counts the request against `limit` under `caller`; 429 when it is over. A store that fails lets it through. */
  function count(request: FastifyRequest, reply: FastifyReply, limit: WindowLimit, caller: string, agent: string | undefined, last: boolean): void | Promise<void> {
    let verdict: Verdict | Promise<Verdict>
    try {
      verdict = windows.take(limit, caller)
    } catch (error) {
      onStoreError(error)
      return
    }
    if (!isPromise(verdict)) return apply(verdict, request, reply, limit, caller, agent, last)
    return verdict.then(
      (settled) => apply(settled, request, reply, limit, caller, agent, last),
      (error: unknown) => onStoreError(error),
    )
  }

  /**
   * The caller's key. Credentials the chain refuses are keyed (and counted) by IP: a client guessing keys is limited
   * like an anonymous one, and the route still answers it 401 (it asks the chain again and gets the same refusal).
   */
  function callerOf(request: FastifyRequest): string | Promise<string> {
    let identity: Identity | null | Promise<Identity | null>
    try {
      identity = identify(request)
    } catch {
      return callerKey(null, request.ip)
    }
    if (!isPromise(identity)) return callerKey(identity, request.ip)
    return identity.then(
      (found) => callerKey(found, request.ip),
      () => callerKey(null, request.ip),
    )
  }

  function limitCaller(request: FastifyRequest, reply: FastifyReply, agent: string | undefined, caller: string): void | Promise<void> {
    const limit = (agent !== undefined && agents.get(agent)) || global
    const counted = count(request, reply, limit, caller, agent, true)
    if (counted === undefined) return capParallel(request, reply, agent, caller)
    return counted.then(() => capParallel(request, reply, agent, caller))
  }

  function capParallel(request: FastifyRequest, reply: FastifyReply, agent: string | undefined, caller: string): void {
    if (parallel === null || parallel.acquire(caller, reply.raw)) return
    request.log.debug({ caller, maxParallel: parallel.max }, 'parallel cap reached')
    onReject(request, 'parallel', agent ?? null)
    throw ERR_TOO_MANY_PARALLEL(parallel.max)
  }

  function afterLookupCount(request: FastifyRequest, reply: FastifyReply, agent: string | undefined): void | Promise<void> {
    const caller = callerOf(request)
    if (typeof caller === 'string') return limitCaller(request, reply, agent, caller)
    return caller.then((key) => limitCaller(request, reply, agent, key))
  }

  function limitRequest(request: FastifyRequest, reply: FastifyReply): void | Promise<void> {
    const agent = (request.params as { agent?: string }).agent
    // A credential may cost a database query to check: count its client address first, so a client trying
    // made-up keys is stopped before the lookups (a known key's own counter follows).
    if (!hasCredential(request)) return afterLookupCount(request, reply, agent)
    const counted = count(request, reply, beforeLookup, `ip:${request.ip}`, agent, false)
    if (counted === undefined) return afterLookupCount(request, reply, agent)
    return counted.then(() => afterLookupCount(request, reply, agent))
  }

  return function rateLimit(request, reply, done) {
    let pending: void | Promise<void>
    try {
      pending = limitRequest(request, reply)
    } catch (error) {
      done(error as Error)
      return
    }
    if (pending === undefined) done()
    else pending.then(() => done(), done)
  }
}
