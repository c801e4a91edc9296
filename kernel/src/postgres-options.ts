// How every first-party PostgreSQL plugin connects, in one place: pool options as plain data (the kernel does not
// depend on `pg`; plugins pass these to `new pg.Pool(…)`), and how messages name a database.
import { describeConnection } from './connection-text.js'

/** The options of a `pg.Pool` (or `pg.Client`, without `max` and `idleTimeoutMillis`). */
export interface PostgresPoolOptions {
  connectionString: string
  max: number
  connectionTimeoutMillis: number
  query_timeout: number
  idleTimeoutMillis: number
  application_name: string
}

/**
 * A small pool that fails fast: 5 s to connect, 5 s per query, idle connections closed after 30 s.
 * @example
 * const pool = new pg.Pool(postgresPoolOptions(config.database, 'robutler-auth-keys'))
 */
export function postgresPoolOptions(connectionString: string, application: string, max = 5): PostgresPoolOptions {
  return { connectionString, max, connectionTimeoutMillis: 5000, query_timeout: 5000, idleTimeoutMillis: 30_000, application_name: application }
}

/**
 * `host:port/database` of a connection string, for messages: never its user's password.
 * @example
 * describeDatabase('postgres://app:s3cret@db.internal:5432/keys') // 'db.internal:5432/keys'
 */
export function describeDatabase(connectionString: string): string {
  return describeConnection(connectionString, { defaultPort: 5432 }) ?? 'the configured database'
}
