// The `agents-postgres` readiness check: the loader's pool can run a query within the kernel's time limit.
import { describeConnectionError, type HealthCheck } from '@robutler/kernel'
import type pg from 'pg'
import { withSignal } from './database.js'

export function databaseCheck(pool: pg.Pool, connectionString: string, where: string): HealthCheck {
  return async function agentsPostgresHealth(signal) {
    try {
      await withSignal(pool.query('SELECT 1'), signal)
    } catch (error) {
      throw new Error(`agent database at ${where}: ${signal.aborted ? 'no answer in time' : describeConnectionError(error, connectionString)}`)
    }
  }
}
