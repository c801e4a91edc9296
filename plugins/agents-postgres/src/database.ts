// PostgreSQL connections: the loader's small pool, and messages that name the server but never the password.
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
  try {
    const url = new URL(connectionString)
    if (url.protocol === 'postgres:' || url.protocol === 'postgresql:') {
      const host = decodeURIComponent(url.hostname) || url.searchParams.get('host') || 'localhost'
      return `${host}:${url.port || '5432'}${url.pathname && url.pathname !== '/' ? url.pathname : ''}`
    }
  } catch {
    // Not a URL: a libpq key=value string such as "host=db dbname=agents password=…", read below.
  }
  const field = (name: string) => new RegExp(`(?:^|\\s)${name}\\s*=\\s*'?([^'\\s]+)`).exec(connectionString)?.[1]
  const host = field('host')
  if (!host) return 'the configured database'
  return `${host}:${field('port') ?? '5432'}${field('dbname') ? `/${field('dbname')}` : ''}`
}

function passwordOf(connectionString: string): string | null {
  try {
    const url = new URL(connectionString)
    if (url.password) return decodeURIComponent(url.password)
  } catch {
    // key=value form: handled below
  }
  return /(?:^|\s)password\s*=\s*'?([^'\s]+)/.exec(connectionString)?.[1] ?? null
}

/** An error's text with the connection string and its password removed (pg errors do not carry them, but be sure). */
export function safeReason(error: unknown, connectionString: string): string {
  let text = reasonOf(error)
  text = text.split(connectionString).join('[database]')
  const password = passwordOf(connectionString)
  if (password) text = text.split(password).join('[redacted]')
  return text
}

/** Connection failures to several addresses arrive as an AggregateError with no message of its own. */
function reasonOf(error: unknown): string {
  const e = error as { message?: string; code?: string; errors?: unknown[] } | null
  if (e?.message) return e.message
  const inner = Array.isArray(e?.errors) ? e.errors.map((x) => (x as Error)?.message).filter(Boolean) : []
  if (inner.length > 0) return inner.join('; ')
  return e?.code ?? String(error ?? 'unknown error')
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
