// The authenticator: a key from the config, or one from the database (through a short-lived cache).
// Secrets are hashed first; every look-up is by hash (a database row confirmed with a constant-time compare).
import type { AuthAnswer, Authenticator, Identity, KernelApi } from '@robutler/kernel'
import { parseBudget } from './budget.js'
import type { TtlLru } from './cache.js'
import type { ConfigKey } from './config.js'
import { ERR_AUTH_KEYS_UNAVAILABLE } from './errors.js'
import { GENERATED_SECRET, hashBytes, hashKeyOf, sameHash } from './secrets.js'
import type { KeyStore } from './store.js'

type Log = KernelApi['log']

export interface KnownKey {
  identity: Identity
}

/** A database answer as cached: `not-mine` for an unknown key, `invalid` for a revoked one. */
export interface CachedAnswer {
  answer: AuthAnswer
}

function identityOf(userId: string, scope: Identity['scope'], keyId: string, agents: string[] | null | undefined, budget?: string | null): Identity {
  const identity: Identity = agents ? { userId, scope, keyId, agents: [...agents] } : { userId, scope, keyId }
  const own = budget ? parseBudget(budget) : null
  if (own !== null) identity.budget = own
  return identity
}

/** The public id of the config key at `index`: its `id`, or `config-<position>` counted from 1. */
export function configKeyId(entry: ConfigKey, index: number): string {
  return entry.id ?? `config-${index + 1}`
}

/**
 * The config's keys by hash. Two entries with the same secret or id are a mistake: register fails naming their
 * positions, never the secret.
 */
export function configKeyTable(keys: readonly ConfigKey[]): Map<string, KnownKey> {
  const table = new Map<string, KnownKey>()
  const positions = new Map<string, number>()
  const ids = new Map<string, number>()
  keys.forEach((entry, i) => {
    const position = i + 1
    const id = configKeyId(entry, i)
    if (ids.has(id)) throw new Error(`keys ${ids.get(id)} and ${position} have the same id '${id}'`)
    ids.set(id, position)
    const key = hashKeyOf(entry.key)
    if (table.has(key)) throw new Error(`keys ${positions.get(key)} and ${position} (ids '${table.get(key)!.identity.keyId}' and '${id}') are the same secret`)
    positions.set(key, position)
    table.set(key, { identity: identityOf(entry.userId, entry.scope ?? 'all', id, entry.agents, entry.budget) })
  })
  return table
}

export interface AuthenticatorParts {
  configKeys: ReadonlyMap<string, KnownKey>
  /** Null without a database. */
  store: KeyStore | null
  /** Keys the database knows (valid or revoked). */
  cache: TtlLru<CachedAnswer>
  /**
   * Keys the database does not know, apart and briefly: a flood of made-up keys cannot evict real ones, and a
   * client repeating one bad key costs one query per period.
   */
  unknown: TtlLru<CachedAnswer>
  log: Log
}

/**
 * An authenticator over config keys and, when there is a store, database keys. A token that is neither is
 * 'not-mine' (another authenticator may know it); a revoked database key is 'invalid'. A cached key costs one
 * SHA-256 and two Map look-ups, and no promise.
 */
export function createAuthenticator(parts: AuthenticatorParts): Authenticator {
  const { configKeys, store, cache, unknown, log } = parts
  const inflight = new Map<string, Promise<AuthAnswer>>()

  async function lookUp(store: KeyStore, hash: Buffer, key: string): Promise<AuthAnswer> {
    let row
    try {
      row = await store.lookup(hash)
    } catch (error) {
      log.error({ err: { message: (error as Error)?.message, code: (error as { code?: string })?.code } }, 'the key database did not answer a key look-up')
      throw ERR_AUTH_KEYS_UNAVAILABLE()
    }
    let answer: AuthAnswer
    if (row === null || !sameHash(row.hash, hash)) {
      answer = 'not-mine'
    } else if (row.revokedAt !== null) {
      log.info({ keyId: row.id }, 'refused a revoked API key')
      answer = 'invalid'
    } else {
      answer = identityOf(row.userId, row.scope, row.id, row.agents, row.budget)
      log.debug({ keyId: row.id }, 'API key verified against the database')
      store.touch(row.id).catch((error) => log.warn({ keyId: row.id, err: { message: (error as Error)?.message } }, 'could not record last use of an API key'))
    }
    ;(answer === 'not-mine' ? unknown : cache).set(key, { answer })
    return answer
  }

  return function authenticateApiKey(credential) {
    // A Map hit by the hash is the whole check: the Map compares hash strings (a timing difference there says how
    // many leading bytes of two SHA-256 digests agree, which no one can steer toward a key without a preimage), so
    // a constant-time compare after it would confirm what the hit already proved.
    const key = hashKeyOf(credential.token)
    const known = configKeys.get(key)
    if (known !== undefined) return known.identity
    // Only keys this plugin made can be in the database: anything else never costs a query.
    if (store === null || !GENERATED_SECRET.test(credential.token)) return 'not-mine'
    const cached = cache.get(key) ?? unknown.get(key)
    if (cached !== undefined) return cached.answer
    const hash = hashBytes(key)
    // One query per key at a time, however many requests carry it.
    let pending = inflight.get(key)
    if (pending === undefined) {
      pending = lookUp(store, hash, key).finally(() => inflight.delete(key))
      inflight.set(key, pending)
    }
    return pending
  }
}
