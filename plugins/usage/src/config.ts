// The plugin's config section (checked by its JSON Schema before register runs) and the settings made from it.
import type { Period } from './periods.js'
import { parsePeriod } from './periods.js'

export interface Price {
  input: number
  output: number
  cachedInput?: number
  per?: number
}

export interface Reserve {
  tokens?: number
  cost?: number
}

export interface BudgetConfig {
  name: string
  match: { user?: string; key?: string; agent?: string }
  period: string
  tokens?: number
  cost?: number
  reserve?: Reserve
}

export interface UsageConfig {
  database?: string
  table?: string
  redis?: string
  redisPrefix?: string
  flushMs?: number
  memoryRecords?: number
  prices?: Record<string, Price>
  budgets?: BudgetConfig[]
  reserve?: Reserve
}

export interface Budget {
  name: string
  on: 'user' | 'key' | 'agent'
  /** The one subject capped, or null: each subject on its own ('*'). */
  subject: string | null
  period: Period
  tokens: number | null
  cost: number | null
  reserve: { tokens: number; cost: number }
}

export interface Settings {
  database: string | null
  table: string
  redisUrl: string | null
  redisPrefix: string
  flushMs: number
  memoryRecords: number
  prices: Map<string, Required<Price>>
  budgets: Budget[]
  reserve: { tokens: number; cost: number }
}

/** Before any request on a budget has finished, a request reserves this much (see README, "Budgets"). */
export const DEFAULT_RESERVE = { tokens: 1000, cost: 0.01 }

export function settingsFrom(config: UsageConfig, env: Readonly<Record<string, string | undefined>>): Settings {
  const reserve = { ...DEFAULT_RESERVE, ...config.reserve }
  const prices = new Map<string, Required<Price>>()
  for (const [model, price] of Object.entries(config.prices ?? {})) {
    prices.set(model, { input: price.input, output: price.output, cachedInput: price.cachedInput ?? price.input, per: price.per ?? 1e6 })
  }
  const budgets = (config.budgets ?? []).map((b): Budget => {
    const on = b.match.user !== undefined ? 'user' : b.match.key !== undefined ? 'key' : 'agent'
    const value = b.match[on]!
    return {
      name: b.name,
      on,
      subject: value === '*' ? null : value,
      period: parsePeriod(b.period),
      tokens: b.tokens ?? null,
      cost: b.cost ?? null,
      reserve: { ...reserve, ...b.reserve },
    }
  })
  return {
    database: config.database ?? env.DATABASE_URL ?? null,
    table: config.table ?? 'robutler_usage',
    redisUrl: config.redis ?? env.REDIS_URL ?? null,
    redisPrefix: config.redisPrefix ?? 'robutler:usage:',
    flushMs: config.flushMs ?? 1000,
    memoryRecords: config.memoryRecords ?? 100_000,
    prices,
    budgets,
    reserve,
  }
}
