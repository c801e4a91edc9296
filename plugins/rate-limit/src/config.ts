// The plugin's config section, and the settings resolved from it once, at register.

/** A time window: milliseconds, or a duration such as `"1 minute"`, `"30s"`, `"1.5 hours"`. */
export type TimeWindow = number | string

export interface AgentLimitConfig {
  max?: number
  timeWindow?: TimeWindow
}

export interface RateLimitConfig {
  /** Requests a caller may make per window (default 60). */
  max?: number
  /** The window (default `"1 minute"`). */
  timeWindow?: TimeWindow
  /**
   * Requests with a credential that one client address may make per window, counted before the credential is
   * looked up (default: 10 × max): a client trying made-up keys is limited before each costs a database query.
   */
  ipMax?: number
  /** Requests one caller may have in flight at once, per process (default: no cap). */
  maxParallel?: number
  /** Agents with a counter of their own instead of the global one. */
  agents?: Record<string, AgentLimitConfig>
  /** Redis URL for the counters (default `REDIS_URL`); `false` keeps them in memory. */
  redis?: string | false
  /** Prefix of every Redis key (default `robutler:rate-limit:`). */
  keyPrefix?: string
}

/** One window counter: the global one (`scope` `*`, which no agent name can be) or an agent's own. */
export interface WindowLimit {
  readonly scope: string
  readonly max: number
  readonly timeWindowMs: number
  /** The window as the 429 message says it: `1 minute`. */
  readonly label: string
}

export interface Settings {
  global: WindowLimit
  /** The per-address count of requests that carry a credential, before it is looked up. */
  beforeLookup: WindowLimit
  agents: ReadonlyMap<string, WindowLimit>
  maxParallel: number | null
  redisUrl: string | null
  keyPrefix: string
}

export const GLOBAL_SCOPE = '*'
/** The scope of the per-address count before credentials are looked up (no agent name has a `+`). */
export const LOOKUP_SCOPE = '+lookup'
const IP_MAX_FACTOR = 10
const DEFAULT_MAX = 60
const DEFAULT_WINDOW = '1 minute'
const DEFAULT_KEY_PREFIX = 'robutler:rate-limit:'

// Kept in step with the `timeWindow` pattern of config.schema.json.
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|msecs?|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)?\s*$/i
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

function unitOf(word: string): string {
  const w = word.toLowerCase()
  if (w.startsWith('ms') || w.startsWith('milli')) return 'ms'
  return w[0]
}

/** Milliseconds of a window; throws a message naming the bad value. */
export function parseTimeWindow(value: TimeWindow, where: string): number {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 1) return value
  } else {
    const match = DURATION.exec(value)
    if (match) {
      const ms = Math.round(Number(match[1]) * UNIT_MS[match[2] ? unitOf(match[2]) : 'ms'])
      if (ms >= 1) return ms
    }
  }
  throw new TypeError(`plugin-rate-limit: ${where} must be milliseconds (an integer ≥ 1) or a duration like "1 minute", got ${JSON.stringify(value)}`)
}

function checkMax(value: number, where: string): number {
  if (Number.isInteger(value) && value >= 1) return value
  throw new TypeError(`plugin-rate-limit: ${where} must be an integer ≥ 1, got ${JSON.stringify(value)}`)
}

function windowLimit(scope: string, max: number, timeWindow: TimeWindow, where: string): WindowLimit {
  const timeWindowMs = parseTimeWindow(timeWindow, `${where}timeWindow`)
  const label = typeof timeWindow === 'string' ? timeWindow.trim() : `${timeWindow} ms`
  return { scope, max: checkMax(max, `${where}max`), timeWindowMs, label }
}

/**
 * Settings from the config section and the server's environment. The schema has checked the shapes already;
 * the values are checked again here because createServer's `plugins` option may hand them over unvalidated.
 */
export function resolveSettings(config: RateLimitConfig, env: Readonly<Record<string, string | undefined>>): Settings {
  const max = config.max ?? DEFAULT_MAX
  const timeWindow = config.timeWindow ?? DEFAULT_WINDOW
  const global = windowLimit(GLOBAL_SCOPE, max, timeWindow, '')
  const agents = new Map<string, WindowLimit>()
  for (const [name, entry] of Object.entries(config.agents ?? {})) {
    agents.set(name, windowLimit(name, entry.max ?? max, entry.timeWindow ?? timeWindow, `agents.${name}.`))
  }
  const ipMax = config.ipMax === undefined ? global.max * IP_MAX_FACTOR : checkMax(config.ipMax, 'ipMax')
  const beforeLookup = windowLimit(LOOKUP_SCOPE, ipMax, timeWindow, '')
  const maxParallel = config.maxParallel === undefined ? null : checkMax(config.maxParallel, 'maxParallel')
  const redisUrl = config.redis === false ? null : config.redis || env.REDIS_URL || null
  return { global, beforeLookup, agents, maxParallel, redisUrl, keyPrefix: config.keyPrefix ?? DEFAULT_KEY_PREFIX }
}
