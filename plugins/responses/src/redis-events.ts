// Background runs' events and cancels in Redis (the plugin's `redis`, default REDIS_URL), in front of the store that
// keeps the responses themselves (PostgreSQL, or memory): each run's events are a list (`<prefix>:events:<id>`,
// index = sequence number, expiring with retention), new ones announced on `<prefix>:events` and cancels on
// `<prefix>:cancel` with pub/sub. Followers also poll, so a lost message only delays.
import type { KernelApi } from '@robutler/kernel'
import { Redis } from 'ioredis'
import { EventEmitter } from 'node:events'
import { lostEvents } from './background.js'
import { ERR_STORE_UNAVAILABLE } from './errors.js'
import { wakeOf, type ResponseStore, type StoredEvent, type StoredResponse } from './store.js'

const COMMAND_TIMEOUT_MS = 2000

/** Where a Redis URL points, without its credentials. */
function location(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}`
  } catch {
    // Not a URL: ioredis refuses it with its own error; the message must still carry no secret.
    return '(unparsable URL)'
  }
}

export class RedisEvents {
  readonly #client: Redis
  readonly #subscriber: Redis
  readonly #prefix: string
  readonly #ttlSeconds: number
  readonly #where: string
  readonly #wake = new EventEmitter()
  #cancel: (id: string) => void = () => undefined

  private constructor(client: Redis, subscriber: Redis, prefix: string, ttlSeconds: number, where: string) {
    this.#client = client
    this.#subscriber = subscriber
    this.#prefix = prefix
    this.#ttlSeconds = ttlSeconds
    this.#where = where
    this.#wake.setMaxListeners(0)
  }

  /** Connects both clients and subscribes; rejects when Redis cannot be reached (the plugin cannot start). */
  static async open(url: string, prefix: string, ttlSeconds: number, log: KernelApi['log']): Promise<RedisEvents> {
    const options = { lazyConnect: true, connectTimeout: 2000, commandTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 1 }
    const client = new Redis(url, options)
    const subscriber = new Redis(url, { ...options, commandTimeout: undefined })
    const where = location(url)
    for (const connection of [client, subscriber]) connection.on('error', (error: Error) => log.warn({ err: { message: error.message } }, `responses: Redis at ${where} failed`))
    try {
      await client.connect()
      await subscriber.connect()
      await subscriber.subscribe(`${prefix}:events`, `${prefix}:cancel`)
    } catch (error) {
      client.disconnect()
      subscriber.disconnect()
      throw new Error(`cannot reach Redis at ${where}: ${(error as Error).message}`, { cause: error })
    }
    const events = new RedisEvents(client, subscriber, prefix, ttlSeconds, where)
    subscriber.on('message', (channel: string, id: string) => {
      if (channel === `${prefix}:events`) events.#wake.emit(id)
      else events.#cancel(id)
    })
    return events
  }

  #key(id: string): string {
    return `${this.#prefix}:events:${id}`
  }

  async #run<T>(command: Promise<T>): Promise<T> {
    try {
      return await command
    } catch (error) {
      throw ERR_STORE_UNAVAILABLE(this.#where, error as Error)
    }
  }

  async append(id: string, events: StoredEvent[]): Promise<void> {
    if (events.length === 0) return
    const key = this.#key(id)
    await this.#run(
      this.#client
        .multi()
        .rpush(key, ...events.map((event) => event.json))
        .expire(key, this.#ttlSeconds)
        .publish(`${this.#prefix}:events`, id)
        .exec(),
    )
  }

  async read(id: string, after: number): Promise<StoredEvent[]> {
    const from = Math.max(0, after + 1)
    const texts = await this.#run(this.#client.lrange(this.#key(id), from, -1))
    return texts.map((json, i) => ({ sequence: from + i, json }))
  }

  async count(id: string): Promise<number> {
    return this.#run(this.#client.llen(this.#key(id)))
  }

  async remove(id: string): Promise<void> {
    await this.#run(this.#client.del(this.#key(id)))
  }

  wait(id: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return wakeOf(this.#wake, id, timeoutMs, signal)
  }

  async requestCancel(id: string): Promise<void> {
    await this.#run(this.#client.publish(`${this.#prefix}:cancel`, id))
  }

  onCancel(handler: (id: string) => void): void {
    this.#cancel = handler
  }

  async close(): Promise<void> {
    this.#wake.removeAllListeners()
    await Promise.allSettled([this.#client.quit(), this.#subscriber.quit()])
  }
}

/**
 * The store with its background events and cancels in Redis: the rest (responses, conversations, leases) stays
 * with `store`. A run found dead by the sweep gets its terminal events in Redis, numbered after the ones there.
 */
export function withRedisEvents(store: ResponseStore, events: RedisEvents): ResponseStore {
  const overrides: Partial<ResponseStore> = {
    appendEvents: (id, list) => events.append(id, list),
    readEvents: (id, after) => events.read(id, after),
    waitEvents: (id, timeoutMs, signal) => events.wait(id, timeoutMs, signal),
    requestCancel: (id) => events.requestCancel(id),
    onCancel: (handler) => events.onCancel(handler),
    deleteResponse: async (id) => {
      await events.remove(id)
      return store.deleteResponse(id)
    },
    sweepLost: async (now, fail) => {
      const lost = new Map<string, StoredResponse>()
      const ids = await store.sweepLost(now, (record, next) => {
        lost.set(record.id, record)
        return fail(record, next)
      })
      for (const [id, record] of lost) await events.append(id, lostEvents(record, await events.count(id), 'its lease ran out'))
      return ids
    },
    close: async () => {
      await events.close()
      await store.close()
    },
  }
  return new Proxy(store, {
    get(target, key, receiver) {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof ResponseStore]
      const value = Reflect.get(target, key, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
