// The authenticator chain: each authenticator answers an identity, "not mine" or "invalid".
import type { FastifyRequest } from 'fastify'
import { ERR_UNAUTHENTICATED } from './errors.js'
import type { AuthAnswer, Authenticator, Credential, Identity, Scope } from './types.js'

const LEVEL: Record<Scope, number> = { all: 0, owner: 1, admin: 2 }

export function scopeLevel(scope: Scope): number {
  return LEVEL[scope]
}

/** True when a caller with `caller` scope may use something that needs `needed`. */
export function scopeAllows(caller: Scope, needed: Scope): boolean {
  return LEVEL[caller] >= LEVEL[needed]
}

/** The scheme of `Authorization: Bearer <token>`, in any case, and the space after it. */
const BEARER = /^bearer /i
const BEARER_LENGTH = 'bearer '.length

/** The credential of a request, or null when it carries none. Malformed headers are 'invalid'. */
export function readCredential(request: FastifyRequest): Credential | null | 'malformed' {
  const authorization = request.headers.authorization
  if (authorization !== undefined) {
    if (!BEARER.test(authorization)) return 'malformed'
    const token = authorization.slice(BEARER_LENGTH).trim()
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

/** A refusal kept on the request, so that whoever asks again gets the same error. */
class Refused {
  constructor(readonly error: unknown) {}
}

type Held = Identity | Promise<Identity | null> | Refused | null
type HoldingRequest = FastifyRequest & { [IDENTITY]: Held }

function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

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
    try {
      const found = this.identifyNow(request)
      return isThenable(found) ? found : Promise.resolve(found)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * The same answer without a promise when it is known at once: no credential, or every authenticator that ran
   * answered synchronously (a config key, a cached one); a refusal is then thrown. A promise otherwise.
   */
  identifyNow(request: FastifyRequest): Identity | null | Promise<Identity | null> {
    if (this.#authenticators.length === 0) return null
    // One run of the chain per request, whoever asks first (a rate limiter's hook, then the route). Kept on the
    // request, not in a WeakMap keyed by it: see TRACKED in admission.ts. No credential is not kept: reading
    // the headers again costs less than keeping it.
    const holder = request as HoldingRequest
    const held = holder[IDENTITY]
    if (held !== null) {
      if (held instanceof Refused) throw held.error
      return held
    }
    let found: Identity | null | Promise<Identity | null>
    try {
      found = this.#run(request)
    } catch (error) {
      holder[IDENTITY] = new Refused(error)
      throw error
    }
    if (found !== null) holder[IDENTITY] = found
    return found
  }

  #run(request: FastifyRequest): Identity | null | Promise<Identity | null> {
    const credential = readCredential(request)
    if (credential === null) return null
    if (credential === 'malformed') {
      throw ERR_UNAUTHENTICATED("Malformed credentials: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    }
    return this.#from(0, credential, request)
  }

  /** The chain from authenticator `first` on: synchronous until one answers a promise. */
  #from(first: number, credential: Credential, request: FastifyRequest): Identity | Promise<Identity> {
    const authenticators = this.#authenticators
    for (let i = first; i < authenticators.length; i++) {
      const answer = authenticators[i](credential, request)
      if (isThenable(answer)) return answer.then((settled) => this.#after(settled, i, credential, request))
      if (answer === 'not-mine') continue
      return accepted(answer)
    }
    throw ERR_UNAUTHENTICATED('Invalid API key')
  }

  #after(answer: AuthAnswer, index: number, credential: Credential, request: FastifyRequest): Identity | Promise<Identity> {
    return answer === 'not-mine' ? this.#from(index + 1, credential, request) : accepted(answer)
  }
}

/** An authenticator's answer other than 'not-mine': the identity, or 401 for 'invalid' and anything else. */
function accepted(answer: AuthAnswer): Identity {
  if (answer === 'invalid' || !answer || typeof answer !== 'object') throw ERR_UNAUTHENTICATED('Invalid API key')
  return answer
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
