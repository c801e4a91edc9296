// @robutler/plugin-usage: every model call's usage metered (tokens, cost from a price table) per user, key,
// agent, model and surface, kept in PostgreSQL (or this process's memory); budgets that refuse a request before
// the model is called, counted in Redis (or per process); `GET /usage`, `GET /usage/me` and `robutler usage`.
import { definePlugin, describeConnectionError, describeDatabase, type KernelApi } from '@robutler/kernel'
import { Budgets } from './budgets.js'
import { usageCommand } from './commands.js'
import { settingsFrom, type BudgetConfig, type Price, type Settings, type UsageConfig } from './config.js'
import { MemoryCounters, type Counters } from './counters.js'
import { MemoryStore } from './memory-store.js'
import { Meter } from './meter.js'
import { migrate, openPool, PostgresStore } from './postgres-store.js'
import { connectRedis, preloadScripts, RedisCounters } from './redis-counters.js'
import { addRoutes } from './routes.js'
import type { UsageStore } from './store.js'

const WARN_EVERY_MS = 10_000

/** A warning at most every 10 s: an outage fails every write and every reconnect attempt. */
function throttledWarn(kernel: KernelApi, message: string): (error: unknown) => void {
  let last = 0
  let suppressed = 0
  return (error) => {
    const now = Date.now()
    if (now - last < WARN_EVERY_MS) {
      suppressed++
      return
    }
    last = now
    kernel.log.warn({ error: error instanceof Error ? error.message : String(error), suppressed }, message)
    suppressed = 0
  }
}

async function openStore(kernel: KernelApi, settings: Settings): Promise<UsageStore> {
  if (settings.database === null) return new MemoryStore(settings.memoryRecords)
  const database = settings.database
  const where = describeDatabase(database)
  const pool = openPool(database)
  pool.on('error', (error) => kernel.log.warn({ err: { message: describeConnectionError(error, database) } }, 'an idle usage database connection failed'))
  try {
    await migrate(pool, settings.table)
  } catch (error) {
    await pool.end()
    throw new Error(`cannot reach the usage database at ${where}: ${describeConnectionError(error, database)}`)
  }
  const warn = throttledWarn(kernel, 'usage records could not be written; kept and retried')
  const store = new PostgresStore(pool, settings.table, {
    flushMs: settings.flushMs,
    onError: (error, dropped) => {
      warn(error)
      if (dropped > 0) kernel.log.error({ dropped }, 'usage records dropped: the database has been away too long')
    },
  })
  kernel.onClose(async () => {
    await store.close()
    await pool.end()
  })
  kernel.health.add('usage-db', async () => {
    await pool.query('select 1')
  })
  kernel.log.info({ database: where, table: settings.table }, 'usage: records in PostgreSQL')
  return store
}

async function openCounters(kernel: KernelApi, settings: Settings): Promise<Counters> {
  if (settings.redisUrl === null) return new MemoryCounters()
  const warn = throttledWarn(kernel, 'usage budget counters: Redis unreachable, budgets fail open until it is back')
  const client = await connectRedis(settings.redisUrl, warn)
  preloadScripts(client, warn)
  kernel.health.add('usage-redis', async () => {
    await client.ping()
  })
  return new RedisCounters(client, settings.redisPrefix)
}

/**
 * The plugin. Enable it in the config's `plugins` section.
 * @example
 * // robutler.config.json
 * { "plugins": { "@robutler/plugin-usage": {
 *     "prices": { "openai/gpt-4o": { "input": 2.5, "output": 10, "per": 1e6 } },
 *     "budgets": [{ "name": "team-daily", "match": { "user": "*" }, "period": "day", "cost": 5 }] } } }
 */
export default definePlugin<UsageConfig>({
  name: 'usage',
  commands: { usage: usageCommand },
  async register(kernel, config) {
    const settings = settingsFrom(config ?? {}, kernel.env)
    const store = await openStore(kernel, settings)
    // Keys may carry budgets of their own (plugin-auth-keys' --budget): the gate runs even with none in config.
    const counters = await openCounters(kernel, settings)
    const gates = new Budgets(kernel, settings, counters, store, throttledWarn(kernel, 'usage budget counters unreachable: budgets fail open'))
    kernel.runs.gate(gates.gate)
    kernel.onClose(() => gates.close())
    const meter = new Meter(kernel, store, settings.prices, gates.onRecord)
    kernel.events.on('llm:end', meter.onLlmEnd)
    addRoutes(kernel, store)
    kernel.log.info(
      { store: store.kind, counters: settings.redisUrl === null ? 'memory (per process)' : 'redis', budgets: settings.budgets.map((b) => b.name), prices: settings.prices.size },
      'usage metering on',
    )
  },
})

export type { BudgetConfig, Price, UsageConfig }
