// The Redis connection behind the window counters: fail fast while Redis is away (limits then fail open), a
// readiness check, warnings that do not flood the log, a clean quit on close.
import type { KernelApi } from '@robutler/kernel'
import { Redis } from 'ioredis'

type Logger = KernelApi['log']

const CONNECT_TIMEOUT_MS = 2_000
// A counter is one INCR in a Lua script: past this, Redis is treated as down for that request.
const COMMAND_TIMEOUT_MS = 500
const WARN_EVERY_MS = 10_000

export const STORE_DOWN = 'rate-limit store unreachable: window limits fail open until it is back'

/** Where a Redis URL points, without its credentials, for log lines. */
export function redisLocation(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`
  } catch {
    // Not a URL: ioredis will refuse it with an error of its own; the log line must still carry no secret.
    return '(unparsable URL)'
  }
}

/** A warning at most every 10 s: a store outage fails every request and every reconnect attempt. */
export class OutageLog {
  readonly #log: Logger
  readonly #store: string
  #lastWarnAt = 0
  #suppressed = 0

  constructor(log: Logger, store: string) {
    this.#log = log
    this.#store = store
  }

  warn(error: unknown, what: string): void {
    const now = Date.now()
    if (now - this.#lastWarnAt < WARN_EVERY_MS) {
      this.#suppressed++
      return
    }
    const suppressed = this.#suppressed
    this.#lastWarnAt = now
    this.#suppressed = 0
    const message = error instanceof Error ? error.message : String(error)
    this.#log.warn({ store: this.#store, error: message, suppressed }, what)
  }
}

/**
 * A client that answers an error at once while disconnected (no offline queue) and keeps reconnecting in the
 * background. Resolves once connected, or after the first failed attempt with a warning: the server starts and
 * its window limits fail open until Redis is back.
 */
export async function connectRedis(url: string, outages: OutageLog): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectionName: 'robutler-rate-limit',
  })
  // The first attempt's error is the startup warning below; ioredis prints errors that have no listener.
  const firstAttempt = () => undefined
  client.on('error', firstAttempt)
  try {
    await client.connect()
  } catch (error) {
    outages.warn(error, `${STORE_DOWN} (at startup)`)
  }
  client.off('error', firstAttempt)
  client.on('error', (error) => outages.warn(error, STORE_DOWN))
  return client
}

/** Quits gracefully when connected, else drops the connection (and stops reconnecting). */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit()
      return
    } catch {
      // The connection broke during quit: disconnect below ends it either way.
    }
  }
  client.disconnect()
}
