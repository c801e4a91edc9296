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

/** What postgresMigration needs of a `pg` client: `query` (the kernel does not depend on `pg`). */
export interface PostgresQueryable {
  query(text: string, values?: unknown[]): Promise<unknown>
}

/**
 * Runs a plugin's migration on `client` in one transaction under a transaction-level advisory lock named `lock`:
 * several processes may start at once (`--workers N`, replicas), and concurrent CREATE … IF NOT EXISTS can still
 * collide, so they take turns. A failure rolls back and rethrows the migration's own error (a failed ROLLBACK only
 * means the connection is gone).
 *
 * @example
 * await postgresMigration(client, `robutler-usage:${table}`, () => client.query(`CREATE TABLE IF NOT EXISTS …`))
 */
export async function postgresMigration<T>(client: PostgresQueryable, lock: string, migrate: () => Promise<T>): Promise<T> {
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lock])
    const result = await migrate()
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  }
}
