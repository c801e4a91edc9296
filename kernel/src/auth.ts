// The authenticator chain: each authenticator answers an identity, "not mine" or "invalid".
import type { FastifyRequest } from 'fastify'
import { ERR_UNAUTHENTICATED } from './errors.js'
import type { Authenticator, Credential, Identity, Scope } from './types.js'

const LEVEL: Record<Scope, number> = { all: 0, owner: 1, admin: 2 }

export function scopeLevel(scope: Scope): number {
  return LEVEL[scope]
}

/** True when a caller with `caller` scope may use something that needs `needed`. */
export function scopeAllows(caller: Scope, needed: Scope): boolean {
  return LEVEL[caller] >= LEVEL[needed]
}

/** The credential of a request, or null when it carries none. Malformed headers are 'invalid'. */
export function readCredential(request: FastifyRequest): Credential | null | 'malformed' {
  const authorization = request.headers.authorization
  if (authorization !== undefined) {
    const space = authorization.indexOf(' ')
    if (space < 0 || authorization.slice(0, space).toLowerCase() !== 'bearer') return 'malformed'
    const token = authorization.slice(space + 1).trim()
    return token ? { scheme: 'bearer', token } : 'malformed'
  }
  const key = request.headers['x-api-key']
  if (key !== undefined) {
    const token = Array.isArray(key) ? key[0] : key
    return token ? { scheme: 'x-api-key', token: token.trim() } : 'malformed'
  }
  return null
}

/** The request decoration holding the chain's answer for that request. */
export const IDENTITY = Symbol('robutler.identity')

export class AuthChain {
  readonly #authenticators: Authenticator[] = []

  add(fn: Authenticator): void {
    if (typeof fn !== 'function') throw new TypeError('addAuthenticator needs a function')
    this.#authenticators.push(fn)
  }

  get enabled(): boolean {
    return this.#authenticators.length > 0
  }

  /**
   * The caller's identity: null for anonymous. With no authenticator enabled every caller is anonymous
   * (so OpenAI SDKs, which always send a key, work against a demo server).
   */
  identify(request: FastifyRequest): Promise<Identity | null> {
    if (this.#authenticators.length === 0) return Promise.resolve(null)
    // One run of the chain per request, whoever asks first (a rate limiter's hook, then the route). Kept on the
    // request, not in a WeakMap keyed by it: see TRACKED in routes-agent.ts.
    const holder = request as FastifyRequest & { [IDENTITY]: Promise<Identity | null> | null }
    return (holder[IDENTITY] ??= this.#run(request))
  }

  async #run(request: FastifyRequest): Promise<Identity | null> {
    const credential = readCredential(request)
    if (credential === null) return null
    if (credential === 'malformed') {
      throw ERR_UNAUTHENTICATED("Malformed credentials: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    }
    for (const authenticate of this.#authenticators) {
      const answer = await authenticate(credential, request)
      if (answer === 'not-mine') continue
      if (answer === 'invalid' || !answer || typeof answer !== 'object') break
      return answer
    }
    throw ERR_UNAUTHENTICATED('Invalid API key')
  }
}

/** The caller's scope on one agent: its own, lifted to `admin` for the agent's admins, `owner` for its owner. */
export function callerScope(identity: Identity | null, agent: { owner: string | null; admins: ReadonlySet<string> }): Scope {
  if (!identity) return 'all'
  if (identity.scope !== 'admin' && agent.admins.size > 0 && agent.admins.has(identity.userId)) return 'admin'
  if (agent.owner !== null && identity.userId === agent.owner && identity.scope === 'all') return 'owner'
  return identity.scope
}

/** True when the caller may use an agent at all. */
export function mayUseAgent(identity: Identity | null, scope: Scope, agent: { name: string; minScope: Scope }): boolean {
  if (identity?.agents && !identity.agents.includes(agent.name)) return false
  return scopeAllows(scope, agent.minScope)
}
