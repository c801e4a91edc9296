// Budget counters: per budget, subject and period, what was spent (tokens, cost in nano-units so sums are exact
// integers), what in-flight requests have reserved, and the finished requests' mean (what the next one reserves).
// In Redis each operation is one Lua script (atomic for every process and instance); without Redis, the same rules
// in this process's memory. A counter Redis no longer has answers MISSING: the caller rebuilds it from the store.

export const MISSING = 'missing'

export interface Amount {
  tokens: number
  /** Nano-units of the price table's currency. */
  cost: number
}

export interface Limit {
  tokens: number | null
  cost: number | null
}

export interface Seed extends Amount {
  requests: number
  /** Ids of recent calls already counted in the seed: settling one of them again changes nothing. */
  applied: string[]
}

export interface Counters {
  /** Reserves this request's share; false when it would not fit. */
  reserve(key: string, requestId: string, fallback: Amount, limit: Limit, ttlSeconds: number): Promise<boolean | typeof MISSING>
  /** Adds one call's usage, once per call id; takes it off the request's reservation. */
  settle(key: string, requestId: string, callId: string, amount: Amount, now: number): Promise<boolean | typeof MISSING>
  /** Frees what is left of the request's reservation and counts it among the finished requests. */
  release(key: string, requestId: string): Promise<void>
  /** Creates the counter from the store's sums, unless another process did first. */
  seed(key: string, seed: Seed, ttlSeconds: number, now: number): Promise<void>
  /**
   * When the store first found itself without this plugin's data (a Redis that restarted empty), epoch ms; 0 for
   * memory. Counters settled before that moment may be in a process's unflushed records: rebuilds wait for them.
   */
  lostAt(now: number): Promise<number>
  /** The counter's figures (reports, tests), or null when missing. */
  read(key: string): Promise<{ spentTokens: number; spentCost: number; reservedTokens: number; reservedCost: number } | null>
  close(): Promise<void>
}

/** Settled call ids are remembered this long: longer than any settlement can be retried. */
export const APPLIED_WINDOW_MS = 10 * 60_000

interface MemoryCounter {
  st: number
  sc: number
  rt: number
  rc: number
  n: number
  nt: number
  nc: number
  reserved: Map<string, Amount>
  settled: Map<string, Amount>
  applied: Map<string, number>
  expires: number
}

/**
 * What a request reserves: the mean of the counter's finished requests; before any has finished, the configured
 * reserve, but no more than what is left (so the first request of a small budget is not refused).
 */
function estimate(c: MemoryCounter, fallback: Amount, limit: Limit): Amount {
  if (c.n > 0) return { tokens: Math.ceil(c.nt / c.n), cost: Math.ceil(c.nc / c.n) }
  return {
    tokens: limit.tokens === null ? fallback.tokens : Math.max(0, Math.min(fallback.tokens, limit.tokens - c.st - c.rt)),
    cost: limit.cost === null ? fallback.cost : Math.max(0, Math.min(fallback.cost, limit.cost - c.sc - c.rc)),
  }
}

/** The admission rule, the same in Lua: spent + reserved + this request's estimate must not pass the limit. */
function fits(spent: number, reserved: number, estimate: number, limit: number | null): boolean {
  if (limit === null) return true
  return spent + reserved < limit && spent + reserved + estimate <= limit
}

export class MemoryCounters implements Counters {
  readonly #counters = new Map<string, MemoryCounter>()

  #get(key: string): MemoryCounter | undefined {
    const c = this.#counters.get(key)
    if (c !== undefined && c.expires <= Date.now()) {
      this.#counters.delete(key)
      return undefined
    }
    return c
  }

  async reserve(key: string, requestId: string, fallback: Amount, limit: Limit): Promise<boolean | typeof MISSING> {
    const c = this.#get(key)
    if (c === undefined) return MISSING
    const e = estimate(c, fallback, limit)
    if (!fits(c.st, c.rt, e.tokens, limit.tokens) || !fits(c.sc, c.rc, e.cost, limit.cost)) return false
    c.rt += e.tokens
    c.rc += e.cost
    c.reserved.set(requestId, { ...e })
    return true
  }

  async settle(key: string, requestId: string, callId: string, amount: Amount, now: number): Promise<boolean | typeof MISSING> {
    const c = this.#get(key)
    if (c === undefined) return MISSING
    if (c.applied.has(callId)) return false
    c.applied.set(callId, now)
    c.st += amount.tokens
    c.sc += amount.cost
    const r = c.reserved.get(requestId)
    if (r !== undefined) {
      const t = Math.min(r.tokens, amount.tokens)
      const k = Math.min(r.cost, amount.cost)
      r.tokens -= t
      r.cost -= k
      c.rt -= t
      c.rc -= k
    }
    const s = c.settled.get(requestId) ?? { tokens: 0, cost: 0 }
    s.tokens += amount.tokens
    s.cost += amount.cost
    c.settled.set(requestId, s)
    if (c.applied.size > 10_000) for (const [id, at] of c.applied) if (at < now - APPLIED_WINDOW_MS) c.applied.delete(id)
    return true
  }

  async release(key: string, requestId: string): Promise<void> {
    const c = this.#get(key)
    if (c === undefined) return
    const r = c.reserved.get(requestId)
    if (r !== undefined) {
      c.rt -= r.tokens
      c.rc -= r.cost
      c.reserved.delete(requestId)
    }
    const s = c.settled.get(requestId) ?? { tokens: 0, cost: 0 }
    c.settled.delete(requestId)
    if (r === undefined) return
    c.n += 1
    c.nt += s.tokens
    c.nc += s.cost
  }

  async seed(key: string, seed: Seed, ttlSeconds: number, now: number): Promise<void> {
    if (this.#get(key) !== undefined) return
    this.#counters.set(key, {
      st: seed.tokens,
      sc: seed.cost,
      rt: 0,
      rc: 0,
      n: seed.requests,
      nt: seed.tokens,
      nc: seed.cost,
      reserved: new Map(),
      settled: new Map(),
      applied: new Map(seed.applied.map((id) => [id, now])),
      expires: now + ttlSeconds * 1000,
    })
  }

  async read(key: string) {
    const c = this.#get(key)
    return c === undefined ? null : { spentTokens: c.st, spentCost: c.sc, reservedTokens: c.rt, reservedCost: c.rc }
  }

  async lostAt(): Promise<number> {
    return 0
  }

  async close(): Promise<void> {}
}
