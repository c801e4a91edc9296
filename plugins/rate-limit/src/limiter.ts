// The onRequest hook of agent routes: counts the request in its window (@fastify/rate-limit's store, in memory or
// in Redis), then takes a parallel slot. Answers 429 through the kernel's error handler.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { RateLimitPluginOptions } from '@fastify/rate-limit'
import type { Settings, WindowLimit } from './config.js'
import { ERR_RATE_LIMITED, ERR_TOO_MANY_PARALLEL } from './errors.js'
import { keyOfRequest, type Identify } from './identity.js'
import type { ParallelCap } from './parallel.js'

// What the hook decides per request, read back by @fastify/rate-limit's key, max and window callbacks: one store
// serves the global counter and every agent's own, with keys `<scope>:<caller>`.
const kLimit = Symbol('robutler.rateLimit.limit')
const kKey = Symbol('robutler.rateLimit.key')

interface Stashed {
  [kLimit]: WindowLimit
  [kKey]: string
}

function stashed(request: FastifyRequest): Stashed {
  return request as unknown as Stashed
}

export type WindowCheck = ReturnType<FastifyInstance['createRateLimit']>

export interface LimitHookDeps {
  settings: Settings
  identify: Identify
  /** `fastify.createRateLimit()`: counts one request and says where its caller stands. */
  check: WindowCheck
  parallel: ParallelCap | null
  /** Called when the store fails: the request then goes through uncounted (fail open). */
  onStoreError: (error: unknown) => void
  /** Called for each refusal (the plugin emits the kernel's `limit:rejected` event with it). */
  onReject: (request: FastifyRequest, limit: 'rate' | 'parallel', agent: string | null) => void
}

/** The @fastify/rate-limit options: no route hooks of its own (`global: false`), our key and limits. */
export function storeOptions(settings: Settings, redis: unknown): RateLimitPluginOptions {
  return {
    global: false,
    keyGenerator: (request) => stashed(request)[kKey],
    max: (request) => stashed(request)[kLimit].max,
    timeWindow: (request) => stashed(request)[kLimit].timeWindowMs,
    // Store failures reach the hook, which logs them and fails open.
    skipOnError: false,
    // Callers tracked in memory (LRU); the least recently seen lose their count first.
    cache: 10_000,
    ...(redis ? { redis, nameSpace: settings.keyPrefix } : {}),
  }
}

/** Adds the request-time fields the store callbacks read, so requests keep one shape (as Fastify advises). */
export function decorateRequests(app: FastifyInstance): void {
  app.decorateRequest(kLimit, null)
  app.decorateRequest(kKey, '')
}

function hasCredential(request: FastifyRequest): boolean {
  return request.headers.authorization !== undefined || request.headers['x-api-key'] !== undefined
}

/** Counts the request against `limit` under `caller`; 429 when it is over. A store that fails lets it through. */
async function count(deps: LimitHookDeps, request: FastifyRequest, reply: FastifyReply, limit: WindowLimit, caller: string, agent: string | undefined): Promise<void> {
  const stash = stashed(request)
  stash[kLimit] = limit
  stash[kKey] = `${limit.scope}:${caller}`
  let counted: Awaited<ReturnType<WindowCheck>> | null = null
  try {
    counted = await deps.check(request)
  } catch (error) {
    deps.onStoreError(error)
  }
  if (counted !== null && !counted.isAllowed) {
    reply.header('x-ratelimit-limit', counted.max)
    reply.header('x-ratelimit-remaining', counted.remaining)
    reply.header('x-ratelimit-reset', counted.ttlInSeconds)
    if (counted.isExceeded) {
      const retryAfter = Math.max(1, counted.ttlInSeconds)
      request.log.debug({ limit: limit.scope, caller, max: limit.max }, 'rate limit exceeded')
      deps.onReject(request, 'rate', agent ?? null)
      throw ERR_RATE_LIMITED(limit.max, limit.label, retryAfter)
    }
  }
}

export function createLimitHook(deps: LimitHookDeps): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const { identify, parallel, onReject } = deps
  const { global, beforeLookup, agents } = deps.settings
  return async function rateLimit(request, reply) {
    const agent = (request.params as { agent?: string }).agent
    // A credential may cost a database query to check: count its client address first, so a client trying
    // made-up keys is stopped before the lookups (a known key's own counter follows).
    if (hasCredential(request)) await count(deps, request, reply, beforeLookup, `ip:${request.ip}`, agent)
    const caller = await keyOfRequest(identify, request)
    const limit = (agent !== undefined && agents.get(agent)) || global
    await count(deps, request, reply, limit, caller, agent)

    if (parallel !== null && !parallel.acquire(caller, reply.raw)) {
      request.log.debug({ caller, maxParallel: parallel.max }, 'parallel cap reached')
      onReject(request, 'parallel', agent ?? null)
      throw ERR_TOO_MANY_PARALLEL(parallel.max)
    }
  }
}
