// The budget counters in Redis: one hash per budget, subject and period, and a sorted set of the call ids
// settled in the last ten minutes (so a settlement that is retried, or that a rebuild already counted, adds
// nothing). Every operation is one Lua script: atomic across `--workers` and instances.
import { Redis } from 'ioredis'
import { APPLIED_WINDOW_MS, MISSING, type Amount, type Counters, type Limit, type Seed } from './counters.js'

/** The scripts' one helper: a counter field moved by n (nothing when n is 0). */
const ADD = `
local function add(key, field, n)
  -- Redis refuses '-0' and Lua's '1e+15' as integers: skip nothing-changes, write whole numbers as %d.
  if n ~= 0 then redis.call('HINCRBY', key, field, string.format('%d', n)) end
end
`

const RESERVE = `${ADD}if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local h = redis.call('HMGET', KEYS[1], 'st', 'sc', 'rt', 'rc', 'n', 'nt', 'nc')
local st, sc, rt, rc = tonumber(h[1] or 0), tonumber(h[2] or 0), tonumber(h[3] or 0), tonumber(h[4] or 0)
local n, nt, nc = tonumber(h[5] or 0), tonumber(h[6] or 0), tonumber(h[7] or 0)
local et, ec = tonumber(ARGV[2]), tonumber(ARGV[3])
local lt, lc = tonumber(ARGV[4]), tonumber(ARGV[5])
if n > 0 then
  et = math.ceil(nt / n); ec = math.ceil(nc / n)
else
  if lt >= 0 then et = math.max(0, math.min(et, lt - st - rt)) end
  if lc >= 0 then ec = math.max(0, math.min(ec, lc - sc - rc)) end
end
if lt >= 0 and not (st + rt < lt and st + rt + et <= lt) then return 0 end
if lc >= 0 and not (sc + rc < lc and sc + rc + ec <= lc) then return 0 end
add(KEYS[1], 'rt', et)
add(KEYS[1], 'rc', ec)
redis.call('HSET', KEYS[1], 'r:' .. ARGV[1] .. ':t', et, 'r:' .. ARGV[1] .. ':c', ec)
return 1
`

const SETTLE = `${ADD}if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('ZADD', KEYS[2], 'NX', ARGV[5], ARGV[2]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[5]) - ${APPLIED_WINDOW_MS})
redis.call('PEXPIRE', KEYS[2], ${APPLIED_WINDOW_MS})
local t, c = tonumber(ARGV[3]), tonumber(ARGV[4])
add(KEYS[1], 'st', t)
add(KEYS[1], 'sc', c)
local id = ARGV[1]
local rt = tonumber(redis.call('HGET', KEYS[1], 'r:' .. id .. ':t'))
if rt then
  local d = math.min(rt, t)
  add(KEYS[1], 'rt', -d)
  redis.call('HSET', KEYS[1], 'r:' .. id .. ':t', rt - d)
end
local rc = tonumber(redis.call('HGET', KEYS[1], 'r:' .. id .. ':c'))
if rc then
  local d = math.min(rc, c)
  add(KEYS[1], 'rc', -d)
  redis.call('HSET', KEYS[1], 'r:' .. id .. ':c', rc - d)
end
add(KEYS[1], 'q:' .. id .. ':t', t)
add(KEYS[1], 'q:' .. id .. ':c', c)
return 1
`

const RELEASE = `${ADD}if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local id = ARGV[1]
local rt = tonumber(redis.call('HGET', KEYS[1], 'r:' .. id .. ':t'))
if rt then add(KEYS[1], 'rt', -rt) end
local rc = tonumber(redis.call('HGET', KEYS[1], 'r:' .. id .. ':c'))
if rc then add(KEYS[1], 'rc', -rc) end
local qt = tonumber(redis.call('HGET', KEYS[1], 'q:' .. id .. ':t') or 0)
local qc = tonumber(redis.call('HGET', KEYS[1], 'q:' .. id .. ':c') or 0)
redis.call('HDEL', KEYS[1], 'r:' .. id .. ':t', 'r:' .. id .. ':c', 'q:' .. id .. ':t', 'q:' .. id .. ':c')
-- A request whose reservation this counter never saw (made before Redis lost it) does not count in the mean.
if not rt then return 0 end
add(KEYS[1], 'n', 1)
add(KEYS[1], 'nt', qt)
add(KEYS[1], 'nc', qc)
return 1
`

/** When this Redis was first seen without our data: set once (NX), read by every process. */
const LOST_AT = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
`

const SEED = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'st', ARGV[1], 'sc', ARGV[2], 'rt', 0, 'rc', 0, 'n', ARGV[3], 'nt', ARGV[1], 'nc', ARGV[2])
if tonumber(ARGV[4]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
for i = 6, #ARGV do redis.call('ZADD', KEYS[2], ARGV[5], ARGV[i]) end
if #ARGV >= 6 then redis.call('PEXPIRE', KEYS[2], ${APPLIED_WINDOW_MS}) end
return 1
`

type Scripted = Redis & {
  usageReserve(key: string, id: string, t: number, c: number, lt: number, lc: number): Promise<number>
  usageSettle(key: string, applied: string, id: string, call: string, t: number, c: number, now: number): Promise<number>
  usageRelease(key: string, id: string): Promise<number>
  usageSeed(key: string, applied: string, ...args: Array<string | number>): Promise<number>
  usageLostAt(key: string, now: number): Promise<string>
}

export class RedisCounters implements Counters {
  readonly #redis: Scripted

  constructor(redis: Redis, prefix: string) {
    redis.defineCommand('usageReserve', { numberOfKeys: 1, lua: RESERVE })
    redis.defineCommand('usageSettle', { numberOfKeys: 2, lua: SETTLE })
    redis.defineCommand('usageRelease', { numberOfKeys: 1, lua: RELEASE })
    redis.defineCommand('usageSeed', { numberOfKeys: 2, lua: SEED })
    redis.defineCommand('usageLostAt', { numberOfKeys: 1, lua: LOST_AT })
    this.#redis = redis as Scripted
    this.#marker = `${prefix}alive`
  }

  readonly #marker: string

  async lostAt(now: number): Promise<number> {
    return Number(await this.#redis.usageLostAt(this.#marker, now))
  }

  get client(): Redis {
    return this.#redis
  }

  async reserve(key: string, requestId: string, fallback: Amount, limit: Limit): Promise<boolean | typeof MISSING> {
    const answer = await this.#redis.usageReserve(key, requestId, fallback.tokens, fallback.cost, limit.tokens ?? -1, limit.cost ?? -1)
    return answer === -1 ? MISSING : answer === 1
  }

  async settle(key: string, requestId: string, callId: string, amount: Amount, now: number): Promise<boolean | typeof MISSING> {
    const answer = await this.#redis.usageSettle(key, `${key}:applied`, requestId, callId, amount.tokens, amount.cost, now)
    return answer === -1 ? MISSING : answer === 1
  }

  async release(key: string, requestId: string): Promise<void> {
    await this.#redis.usageRelease(key, requestId)
  }

  async seed(key: string, seed: Seed, ttlSeconds: number, now: number): Promise<void> {
    // Large seeds go in slices: one script call per slice would not be atomic, so the counter is created with the
    // first slice's ids and the rest are added to the applied set directly (settling one of them is then a no-op).
    const first = seed.applied.slice(0, 5000)
    await this.#redis.usageSeed(key, `${key}:applied`, seed.tokens, seed.cost, seed.requests, ttlSeconds, now, ...first)
    for (let i = 5000; i < seed.applied.length; i += 5000) {
      const slice = seed.applied.slice(i, i + 5000)
      await this.#redis.zadd(`${key}:applied`, 'NX', ...slice.flatMap((id) => [now, id]))
    }
  }

  async read(key: string) {
    const h = await this.#redis.hmget(key, 'st', 'sc', 'rt', 'rc')
    if (h[0] === null) return null
    return { spentTokens: Number(h[0]), spentCost: Number(h[1] ?? 0), reservedTokens: Number(h[2] ?? 0), reservedCost: Number(h[3] ?? 0) }
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect())
  }
}

/** A client that fails commands at once while disconnected (budgets then fail open) and reconnects in the background. */
export async function connectRedis(url: string, onError: (error: unknown) => void): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    // No command timeout: a script that is slow under load must not turn into "fail open" (Redis may have refused
    // the reservation the client stopped waiting for). A connection that drops rejects its commands at once.
    retryStrategy: (times) => Math.min(times * 100, 1000),
  })
  client.on('error', onError)
  await client.connect().catch(onError)
  return client
}

/** Loads the scripts whenever the connection is (re)made, so their first use is not a NOSCRIPT round trip. */
export function preloadScripts(client: Redis, onError: (error: unknown) => void): void {
  const load = () => {
    for (const lua of [RESERVE, SETTLE, RELEASE, SEED, LOST_AT]) client.script('LOAD', lua).catch(onError)
  }
  client.on('ready', load)
  if (client.status === 'ready') load()
}
