// Connection strings in messages: plugins that talk to a database or a cache name the server they could not
// reach, never the password in its connection string.

/**
 * `host:port/path` of a connection string, for messages: never its user or password. Takes a URL
 * (`postgres://app:s3cret@db:5432/keys`, `redis://…`) or libpq's key=value form
 * (`host=db port=5433 dbname=keys password=…`); null when the string names no host.
 * @example
 * describeConnection('postgres://app:s3cret@db.internal/keys', { defaultPort: 5432 }) // 'db.internal:5432/keys'
 */
export function describeConnection(connection: string, options: { defaultPort?: number } = {}): string | null {
  const defaultPort = options.defaultPort === undefined ? '' : String(options.defaultPort)
  const at = (host: string, port: string | undefined, path: string | undefined) => `${host}${port || defaultPort ? `:${port || defaultPort}` : ''}${path ? `/${path}` : ''}`
  if (connection.includes('://')) {
    try {
      const url = new URL(connection)
      // A socket folder as the host: `postgresql:///keys?host=/var/run/postgresql`.
      const host = decodeURIComponent(url.hostname) || url.searchParams.get('host') || 'localhost'
      return at(host, url.port, url.pathname.replace(/^\/+/, ''))
    } catch {
      // Not a URL after all: read it as key=value below.
    }
  }
  const field = (name: string) => new RegExp(`(?:^|\\s)${name}\\s*=\\s*'?([^'\\s]+)`).exec(connection)?.[1]
  const host = field('host')
  return host ? at(host, field('port'), field('dbname')) : null
}

/** The password of a connection string, if it has one. */
function passwordOf(connection: string): string | null {
  try {
    const url = new URL(connection)
    if (url.password) return decodeURIComponent(url.password)
  } catch {
    // key=value form: read below
  }
  return /(?:^|\s)password\s*=\s*'?([^'\s]+)/.exec(connection)?.[1] ?? null
}

/** An error's own text; connection failures to several addresses arrive as an AggregateError with no message. */
function reasonOf(error: unknown): string {
  const e = error as { message?: string; code?: string; errors?: unknown[] } | null
  if (e?.message) return e.message
  const inner = Array.isArray(e?.errors) ? e.errors.map((x) => (x as Error)?.message).filter(Boolean) : []
  if (inner.length > 0) return inner.join('; ')
  return e?.code ?? String(error ?? 'unknown error')
}

/**
 * An error's text for a message or a log line, with the connection string and its password removed (drivers
 * rarely put them there, but be sure).
 * @example
 * log.error(`the key database at ${where} failed: ${describeConnectionError(error, url)}`)
 */
export function describeConnectionError(error: unknown, connection: string): string {
  let text = reasonOf(error).split(connection).join('[connection]')
  const password = passwordOf(connection)
  if (password) text = text.split(password).join('[redacted]')
  return text
}
