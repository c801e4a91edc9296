// The key store's PostgreSQL pool (the kernel's pool options), and how messages name the database.
import { describeDatabase, postgresPoolOptions } from '@robutler/kernel'
import pg from 'pg'

export function openPool(connectionString: string, max?: number): pg.Pool {
  return new pg.Pool(postgresPoolOptions(connectionString, 'robutler-auth-keys', max))
}

export { describeDatabase }
