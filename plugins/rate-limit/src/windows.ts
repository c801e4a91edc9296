// The window counters: fixed windows per `<scope>:<caller>` key, in this process's memory or shared in Redis. A
// count in Redis is taken in leases: a process asks Redis for several of a caller's slots at once, then admits
// from them without a round trip, so a busy caller costs one Redis call per lease, not one per request.
import type { Redis } from 'ioredis'
import type { WindowLimit } from './config.js'

/** Where a caller stands after one request was counted. */
export interface Verdict {
  /** False past the limit: refuse the request. */
  allowed: boolean
  /** Requests left in the window (0 when refused). */
  remaining: number
  /** Milliseconds until the window resets. */
  resetMs: number
}

export interface WindowStore {
  /** Counts one request of `key` against `limit`: at once where it can, else through a promise. */
  take(limit: WindowLimit, key: string): Verdict | Promise<Verdict>
}

/** Callers tracked at once (least recently seen forgotten first): their count restarts when they come back. */
const TRACKED_KEYS = 10_000

function forgetOldest(map: Map<string, unknown>): void {
  while (map.size > TRACKED_KEYS) map.delete(map.keys().next().value as string)
}

/** Marks `key` most recently used (Map keeps insertion order). */
function touch<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key)
  map.set(key, value)
}

interface MemoryWindow {
  count: number
  endsAt: number
}

/** Counters of this process alone: exact, synchronous. */
export class MemoryWindows implements WindowStore {
  readonly #windows = new Map<string, MemoryWindow>()
  readonly #now: () => number

  constructor(now: () => number = performance.now.bind(performance)) {
    this.#now = now
  }

  take(limit: WindowLimit, key: string): Verdict {
    const now = this.#now()
    let window = this.#windows.get(key)
    if (window === undefined || window.endsAt <= now) {
      window = { count: 0, endsAt: now + limit.timeWindowMs }
      this.#windows.set(key, window)
      forgetOldest(this.#windows)
    } else {
      touch(this.#windows, key, window)
    }
    const resetMs = window.endsAt - now
    if (window.count >= limit.max) return { allowed: false, remaining: 0, resetMs }
    window.count++
    return { allowed: true, remaining: limit.max - window.count, resetMs }
  }
}

/**
 * A lease is at most this share of a window's max (and at least 1): the most slots one process can hold unused, so
 * the most by which a caller can be refused early, per other process.
 */
export const LEASE_SHARE = 1 / 100
/** A lease is sized to last about this long at the caller's recent rate in this process. */
export const LEASE_TARGET_MS = 100

/** The largest lease of a limit: ⌊max × LEASE_SHARE⌋, at least 1. */
export function largestLease(limit: WindowLimit): number {
  return Math.max(1, Math.floor(limit.max * LEASE_SHARE))
}

// Grants up to ARGV[3] slots of the window KEYS[1] (max ARGV[1], window ARGV[2] ms) and answers
// { the window's count after the grant, its PTTL, slots granted }. The key holds the slots granted so far, at
// most max, and expires with its window (a fixed window starting at its first grant).
const GRANT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[3]), tonumber(ARGV[1]) - count)
if grant > 0 then count = redis.call('INCRBY', KEYS[1], grant) else grant = 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 and count > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return { count, ttl, grant }
`

type GrantReply = [count: number, ttl: number, granted: number]
type GrantingRedis = Redis & { robutlerRateLimitGrant(key: string, max: number, windowMs: number, wanted: number): Promise<GrantReply> }

interface Lease {
  /** Slots granted to this process and not used yet. */
  free: number
  /** The window's count in Redis at the last grant (every process's slots, this one's free ones included). */
  count: number
  /** When the window ends, on this process's clock: never later than Redis ends it. */
  endsAt: number
  /** Redis said no slot is left in this window. */
  spent: boolean
  /** The grant asked for now, if one is. */
  pending: Promise<void> | null
  /** Requests waiting for it. */
  waiting: number
  /** The last grant's size and when it arrived, to size the next from how fast it went. */
  granted: number
  grantedAt: number
}

/**
 * Counters shared in Redis, taken in leases. Never admits more than a limit's max in one of its windows across every
 * process sharing the Redis (each admitted request holds a slot Redis granted); may refuse a caller early while
 * other processes hold unused slots of its window: by at most largestLease(limit) per other process.
 */
export class RedisWindows implements WindowStore {
  readonly #redis: GrantingRedis
  readonly #prefix: string
  readonly #leases = new Map<string, Lease>()
  readonly #now: () => number

  constructor(redis: Redis, prefix: string, now: () => number = performance.now.bind(performance)) {
    // EVALSHA, loading the script when Redis does not know it yet.
    redis.defineCommand('robutlerRateLimitGrant', { numberOfKeys: 1, lua: GRANT })
    this.#redis = redis as unknown as GrantingRedis
    this.#prefix = prefix
    this.#now = now
    // While the connection is down nothing learned from Redis is trusted (it may come back empty): requests that
    // need a lease fail open, and the first grant after the reconnect starts from what Redis then holds.
    redis.on('close', () => this.#leases.clear())
  }

  take(limit: WindowLimit, key: string): Verdict | Promise<Verdict> {
    const now = this.#now()
    let lease = this.#leases.get(key)
    if (lease === undefined || (lease.endsAt <= now && lease.pending === null)) {
      lease = { free: 0, count: 0, endsAt: Infinity, spent: false, pending: null, waiting: 0, granted: 0, grantedAt: now }
      this.#leases.set(key, lease)
      forgetOldest(this.#leases)
    } else {
      touch(this.#leases, key, lease)
    }
    if (lease.endsAt > now) {
      if (lease.free > 0) {
        lease.free--
        return { allowed: true, remaining: limit.max - lease.count + lease.free, resetMs: lease.endsAt - now }
      }
      if (lease.spent) return { allowed: false, remaining: 0, resetMs: lease.endsAt - now }
    }
    return this.#afterGrant(limit, key, lease)
  }

  /** Waits for a grant (asking for one unless one is on its way), then counts the request again. */
  async #afterGrant(limit: WindowLimit, key: string, lease: Lease): Promise<Verdict> {
    lease.waiting++
    try {
      await (lease.pending ??= this.#grant(limit, key, lease))
    } finally {
      lease.waiting--
    }
    return this.take(limit, key)
  }

  async #grant(limit: WindowLimit, key: string, lease: Lease): Promise<void> {
    const askedAt = this.#now()
    try {
      const [count, ttl, granted] = await this.#redis.robutlerRateLimitGrant(this.#prefix + key, limit.max, limit.timeWindowMs, this.#wanted(limit, lease, askedAt))
      // Asked for only when nothing was left, or when the window had ended (its slots are void now).
      lease.free = granted
      lease.count = count
      // Redis ran the script after it was sent: measured from then, this window ends here no later than there.
      lease.endsAt = askedAt + Math.max(0, ttl)
      lease.spent = granted === 0
      lease.granted = granted
      lease.grantedAt = this.#now()
    } finally {
      lease.pending = null
    }
  }

  /**
   * Slots to ask for: enough for about LEASE_TARGET_MS at the rate the last grant went (1 for a caller's first
   * request or a slow caller), for every request waiting now, at most largestLease(limit).
   */
  #wanted(limit: WindowLimit, lease: Lease, now: number): number {
    const byRate = lease.granted > 0 ? Math.ceil((lease.granted * LEASE_TARGET_MS) / Math.max(1, now - lease.grantedAt)) : 1
    return Math.min(largestLease(limit), Math.max(byRate, lease.waiting))
  }
}
