// PostgreSQL connections: the loader's small pool, and how messages name it (never with its password).
import { describeConnection } from '@robutler/kernel'
import pg from 'pg'

/** Connections the loader pool opens at most (per process); the notification listener adds one. */
export const POOL_MAX = 5
export const CONNECT_TIMEOUT_MS = 5000
const QUERY_TIMEOUT_MS = 5000
export const APPLICATION_NAME = 'robutler-agents-postgres'

export function openPool(connectionString: string, max = POOL_MAX): pg.Pool {
  return new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    application_name: APPLICATION_NAME,
  })
}

/**
 * `host:port/database` of a connection string, for messages: never its user's password.
 * @example
 * describeDatabase('postgres://app:s3cret@db.internal:5432/agents') // 'db.internal:5432/agents'
 */
export function describeDatabase(connectionString: string): string {
  return describeConnection(connectionString, { defaultPort: 5432 }) ?? 'the configured database'
}

/** Rejects with the signal's reason when it fires first; the query itself is ended by the pool's query_timeout. */
export function withSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}
