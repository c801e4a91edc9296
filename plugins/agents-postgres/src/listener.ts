// One dedicated connection doing LISTEN robutler_agents. Each notification for our table names the agent whose
// row changed; a lost connection is reopened with backoff, and since notifications sent while it was down are
// gone, the owner is told to resynchronise (drop every agent it has handed out).
import pg from 'pg'
import { describeConnectionError, type KernelApi } from '@robutler/kernel'
import { postgresPoolOptions } from '@robutler/kernel'
import { APPLICATION_NAME } from './database.js'
import { CHANNEL } from './migrate.js'

export interface ListenerOptions {
  connectionString: string
  /** The table's `schema.name`, as the trigger spells it in each payload. */
  source: string
  /** An agent's row changed (inserted, updated, deleted); null: the whole table changed (TRUNCATE). */
  onChange: (name: string | null) => void
  /** The connection came back after a loss: changes may have been missed. */
  onResync: () => void
  log: KernelApi['log']
  /** Backoff of reconnect attempts: first delay and cap, in ms. */
  retryMinMs?: number
  retryMaxMs?: number
  /** How often the idle connection is checked, so that a silently dead one is noticed (ms). */
  heartbeatMs?: number
}

const HEARTBEAT_TIMEOUT_MS = 5000

interface Payload {
  op?: string
  table?: string
  name?: string | null
}

export class AgentListener {
  readonly #options: ListenerOptions
  readonly #retryMinMs: number
  readonly #retryMaxMs: number
  #client: pg.Client | null = null
  #closed = false
  #failures = 0
  #retry: NodeJS.Timeout | null = null
  #heartbeat: NodeJS.Timeout | null = null

  constructor(options: ListenerOptions) {
    this.#options = options
    this.#retryMinMs = options.retryMinMs ?? 100
    this.#retryMaxMs = options.retryMaxMs ?? 5000
  }

  /** True while LISTEN is in place. */
  get listening(): boolean {
    return this.#client !== null
  }

  /** Connects and listens; rejects when the first connection fails (the plugin cannot start without it). */
  async start(): Promise<void> {
    this.#client = await this.#connect()
    this.#heartbeat = setInterval(() => void this.#checkAlive(), this.#options.heartbeatMs ?? 30_000)
    this.#heartbeat.unref()
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#retry) clearTimeout(this.#retry)
    if (this.#heartbeat) clearInterval(this.#heartbeat)
    const client = this.#client
    this.#client = null
    // The process is shutting down: a connection that fails to end cleanly changes nothing.
    if (client) await client.end().catch(() => undefined)
  }

  async #connect(): Promise<pg.Client> {
    // The pool's connect timeout and naming; no query timeout: LISTEN waits on its connection for as long as it lives.
    const { connectionString, connectionTimeoutMillis, application_name } = postgresPoolOptions(this.#options.connectionString, `${APPLICATION_NAME}-listen`)
    const client = new pg.Client({ connectionString, connectionTimeoutMillis, application_name, keepAlive: true, keepAliveInitialDelayMillis: 10_000 })
    // Both may fire for one loss (an error, then the end); #lost acts on the first and only for the current client.
    client.on('error', (error) => this.#lost(client, error))
    client.on('end', () => this.#lost(client, new Error('connection ended')))
    client.on('notification', (message) => this.#notified(message))
    try {
      await client.connect()
      await client.query(`LISTEN ${CHANNEL}`)
    } catch (error) {
      await client.end().catch(() => undefined)
      throw error
    }
    return client
  }

  #notified(message: pg.Notification): void {
    if (message.channel !== CHANNEL || !message.payload) return
    let payload: Payload
    try {
      payload = JSON.parse(message.payload) as Payload
    } catch {
      this.#options.log.warn({ payload: message.payload.slice(0, 200) }, `ignored a notification on ${CHANNEL} that is not JSON`)
      return
    }
    if (payload.table !== this.#options.source) return
    this.#options.onChange(typeof payload.name === 'string' ? payload.name : null)
  }

  #lost(client: pg.Client, error: unknown): void {
    if (this.#client !== client || this.#closed) return
    this.#client = null
    client.removeAllListeners('notification')
    // A dead socket may still need closing; its error has already been reported through #lost.
    client.end().catch(() => undefined)
    this.#options.log.warn(
      { err: { message: describeConnectionError(error, this.#options.connectionString) } },
      'agent change notifications lost: cached agents keep serving, reconnecting',
    )
    this.#schedule()
  }

  #schedule(): void {
    if (this.#closed) return
    const base = Math.min(this.#retryMaxMs, this.#retryMinMs * 2 ** this.#failures)
    // Jitter keeps a fleet of instances from reconnecting in lockstep after a database restart.
    const delay = Math.round(base * (0.8 + Math.random() * 0.4))
    this.#retry = setTimeout(() => void this.#reconnect(), delay)
    this.#retry.unref()
  }

  async #reconnect(): Promise<void> {
    this.#retry = null
    let client: pg.Client
    try {
      client = await this.#connect()
    } catch (error) {
      this.#failures++
      this.#options.log.debug(
        { err: { message: describeConnectionError(error, this.#options.connectionString) }, attempt: this.#failures },
        'agent change notifications: reconnect failed',
      )
      this.#schedule()
      return
    }
    if (this.#closed) {
      await client.end().catch(() => undefined)
      return
    }
    this.#client = client
    const attempts = this.#failures + 1
    this.#failures = 0
    this.#options.onResync()
    this.#options.log.info({ attempts }, 'agent change notifications resumed: cached agents reload from the database')
  }

  async #checkAlive(): Promise<void> {
    const client = this.#client
    if (!client) return
    const timer = setTimeout(() => this.#lost(client, new Error(`no answer to a heartbeat within ${HEARTBEAT_TIMEOUT_MS} ms`)), HEARTBEAT_TIMEOUT_MS)
    try {
      await client.query('SELECT 1')
    } catch (error) {
      this.#lost(client, error)
    } finally {
      clearTimeout(timer)
    }
  }
}
