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
  /** Counts one request of `caller` (`user:ID`, `ip:ADDRESS`…) against `limit`: at once where it can, else through a promise. */
  take(limit: WindowLimit, caller: string): Verdict | Promise<Verdict>
}

/** Callers tracked at once per counter scope: past that the least recently seen are forgotten (their count restarts). */
const TRACKED_KEYS = 10_000

interface Marked {
  /** Seen since the last eviction pass. */
  used: boolean
}

/**
 * A bounded map of callers' counters, least recently seen forgotten first (approximately: a seen entry gets a second
 * chance, so a look-up only sets a mark instead of moving the entry).
 */
class Tracked<V extends Marked> {
  readonly #entries = new Map<string, V>()

  get(key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry !== undefined) entry.used = true
    return entry
  }

  add(key: string, entry: V): V {
    this.#entries.set(key, entry)
    if (this.#entries.size > TRACKED_KEYS) this.#evictOne()
    return entry
  }

  clear(): void {
    this.#entries.clear()
  }

  /** Drops the oldest entry not seen since it was last passed over (Map order is insertion order). */
  #evictOne(): void {
    for (const [key, entry] of this.#entries) {
      this.#entries.delete(key)
      if (!entry.used) return
      entry.used = false
      this.#entries.set(key, entry)
    }
  }
}

/** One Tracked map per counter scope (the global counter, an agent's own, the per-address one). */
class ByScope<V extends Marked> {
  readonly #scopes = new Map<string, Tracked<V>>()

  of(limit: WindowLimit): Tracked<V> {
    let tracked = this.#scopes.get(limit.scope)
    if (tracked === undefined) {
      tracked = new Tracked<V>()
      this.#scopes.set(limit.scope, tracked)
    }
    return tracked
  }

  clear(): void {
    for (const tracked of this.#scopes.values()) tracked.clear()
  }
}

interface MemoryWindow extends Marked {
  count: number
  endsAt: number
}

/** Counters of this process alone: exact, synchronous. */
export class MemoryWindows implements WindowStore {
  readonly #windows = new ByScope<MemoryWindow>()
  readonly #now: () => number

  constructor(now: () => number = performance.now.bind(performance)) {
    this.#now = now
  }

  take(limit: WindowLimit, caller: string): Verdict {
    const now = this.#now()
    const windows = this.#windows.of(limit)
    const window = windows.get(caller) ?? windows.add(caller, { count: 0, endsAt: now + limit.timeWindowMs, used: false })
    if (window.endsAt <= now) {
      window.count = 0
      window.endsAt = now + limit.timeWindowMs
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

interface Lease extends Marked {
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
  readonly #leases = new ByScope<Lease>()
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

  take(limit: WindowLimit, caller: string): Verdict | Promise<Verdict> {
    const now = this.#now()
    const leases = this.#leases.of(limit)
    let lease = leases.get(caller)
    if (lease === undefined || (lease.endsAt <= now && lease.pending === null)) {
      lease = leases.add(caller, { free: 0, count: 0, endsAt: Infinity, spent: false, pending: null, waiting: 0, granted: 0, grantedAt: now, used: false })
    }
    if (lease.endsAt > now) {
      if (lease.free > 0) {
        lease.free--
        return { allowed: true, remaining: limit.max - lease.count + lease.free, resetMs: lease.endsAt - now }
      }
      if (lease.spent) return { allowed: false, remaining: 0, resetMs: lease.endsAt - now }
    }
    return this.#afterGrant(limit, caller, lease)
  }

  /** Waits for a grant (asking for one unless one is on its way), then counts the request again. */
  async #afterGrant(limit: WindowLimit, caller: string, lease: Lease): Promise<Verdict> {
    lease.waiting++
    try {
      await (lease.pending ??= this.#grant(limit, caller, lease))
    } finally {
      lease.waiting--
    }
    return this.take(limit, caller)
  }

  async #grant(limit: WindowLimit, caller: string, lease: Lease): Promise<void> {
    const askedAt = this.#now()
    try {
      const key = `${this.#prefix}${limit.scope}:${caller}`
      const [count, ttl, granted] = await this.#redis.robutlerRateLimitGrant(key, limit.max, limit.timeWindowMs, this.#wanted(limit, lease, askedAt))
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
