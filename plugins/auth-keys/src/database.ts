// The PostgreSQL connection: a small pool, and how messages name it (never with its password).
import { describeConnection } from '@robutler/kernel'
import pg from 'pg'

/** Connections the plugin opens at most (per process). */
export const POOL_MAX = 5
const CONNECT_TIMEOUT_MS = 5000
const QUERY_TIMEOUT_MS = 5000

export function openPool(connectionString: string, max = POOL_MAX): pg.Pool {
  return new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    application_name: 'robutler-auth-keys',
  })
}

/**
 * `host:port/database` of a connection string, for messages: never its user's password.
 * @example
 * describeDatabase('postgres://app:s3cret@db.internal:5432/keys') // 'db.internal:5432/keys'
 */
export function describeDatabase(connectionString: string): string {
  return describeConnection(connectionString, { defaultPort: 5432 }) ?? 'the configured database'
}
