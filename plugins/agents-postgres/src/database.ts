// The loader's PostgreSQL pool (the kernel's pool options), and how messages name the database.
import { describeDatabase, postgresPoolOptions } from '@robutler/kernel'
import pg from 'pg'

export const APPLICATION_NAME = 'robutler-agents-postgres'

export function openPool(connectionString: string, max?: number): pg.Pool {
  return new pg.Pool(postgresPoolOptions(connectionString, APPLICATION_NAME, max))
}

export { describeDatabase }

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
