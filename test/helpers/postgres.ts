// The shared PostgreSQL server of the tests (DATABASE_URL, default the local one): reachability, throwaway
// tables, and plain queries. Under CI=true an unreachable server fails the test file; elsewhere it is skipped.
import pg from 'pg'

export const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'

/**
 * True when the server answers. Under `CI=true` an unreachable server throws (the file fails, never skips);
 * outside CI it warns and answers false, so the caller can skip what needs the database.
 */
export async function postgresAvailable(url = DATABASE_URL): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch (error) {
    const message = `PostgreSQL at DATABASE_URL is unreachable: ${(error as Error)?.message || (error as { code?: string })?.code}`
    if (process.env.CI === 'true') throw new Error(`${message} (CI=true: tests that need it fail rather than skip)`)
    console.warn(`${message}: skipping the tests that need it`)
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** A table name no other test run uses. */
export function uniqueTable(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`
}

/** Runs one query on a fresh connection. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = [], url = DATABASE_URL): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  await client.connect()
  try {
    return await client.query<R>(text, values)
  } finally {
    await client.end()
  }
}

export async function dropTable(name: string, url = DATABASE_URL): Promise<void> {
  await query(`DROP TABLE IF EXISTS "${name}"`, [], url)
}
