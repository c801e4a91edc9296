// @robutler/plugin-rate-limit: window limits per caller (user → key → IP) with per-agent counters, in memory and
// in the real Redis shared by two server instances, fail-open when Redis goes away, and the parallel cap under
// 50 concurrent streams, released when responses end and when clients disconnect.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RobutlerError, type Identity, type KernelApi } from '@robutler/kernel'
import plugin from '@robutler/plugin-rate-limit'
import { largestLease, MemoryWindows, RedisWindows } from '../plugins/rate-limit/dist/windows.js'
import { words } from './helpers/kernel-app.js'
import { deleteKeys, mustRunRedisTests, reachSharedRedis, SHARED_REDIS_URL, startLimitedServer, startPrivateRedis } from './helpers/rate-limit-app.js'
import { getJson as get, postJson, type TestServer } from './helpers/test-server.js'

const PLUGIN = '@robutler/plugin-rate-limit'
const PREFIX = '/api/v1'
const chat = (text = 'hello there') => ({ messages: [{ role: 'user', content: text }] })

/** Answers of routes that must not count, fetched `times` times each. */
async function hitUncounted(url: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    for (const path of ['', '/health', '/live', '/ready', '/info', '/agents']) {
      const response = await fetch(`${url}${path}`)
      await response.arrayBuffer()
      expect(response.headers.get('x-ratelimit-limit'), path).toBeNull()
    }
  }
}

function expectRateLimited(answer: { status: number; headers: Headers; json: any }, max: number): void {
  expect(answer.status).toBe(429)
  expect(answer.json).toEqual({
    error: { message: expect.stringContaining(`${max} requests per`), type: 'rate_limit_error', code: 'RBT_ERR_RATE_LIMITED', param: null },
  })
  expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  expect(answer.headers.get('x-ratelimit-limit')).toBe(String(max))
  expect(answer.headers.get('x-ratelimit-remaining')).toBe('0')
  expect(Number(answer.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(1)
}


const AGENTS = [
  { name: 'alpha', model: 'local/echo', skills: { 'robutler-skill-probe': {} } },
  { name: 'beta', model: 'local/echo' },
  { name: 'gamma', model: 'local/echo' },
]

describe('plugin-rate-limit in memory', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startLimitedServer(
      { urlPrefix: PREFIX, agents: AGENTS, plugins: { '@robutler/plugin-local': {}, [PLUGIN]: { max: 3, agents: { beta: { max: 2 } } } } },
      ['probe'],
    )
  })
  afterAll(() => server?.close())

  it('counts /{agent}, chat and skill routes per caller, then answers 429 with Retry-After and X-RateLimit-*', async () => {
    await hitUncounted(server.url, 5)
    const info = await get(`${server.url}/alpha`)
    expect(info.status).toBe(200)
    expect([info.headers.get('x-ratelimit-limit'), info.headers.get('x-ratelimit-remaining')]).toEqual(['3', '2'])
    expect(Number(info.headers.get('x-ratelimit-reset'))).toBeGreaterThan(50)
    const completion = await postJson(`${server.url}/alpha/chat/completions`, chat())
    expect([completion.status, completion.headers.get('x-ratelimit-remaining')]).toEqual([200, '1'])
    const skillRoute = await get(`${server.url}/alpha/probe/word`)
    expect([skillRoute.status, skillRoute.headers.get('x-ratelimit-remaining')]).toEqual([200, '0'])

    expectRateLimited(await get(`${server.url}/alpha`), 3)
    expectRateLimited(await postJson(`${server.url}/alpha/chat/completions`, chat()), 3)
    expectRateLimited(await postJson(`${server.url}/alpha/chat/completions`, { ...chat(), stream: true }), 3)
    // gamma has no entry of its own: it shares the caller's global counter.
    expectRateLimited(await get(`${server.url}/gamma`), 3)
    // /{agent}/health counts too: a name the server does not know costs a loader lookup.
    expectRateLimited(await get(`${server.url}/nobody-${randomUUID().slice(0, 8)}/health`), 3)
    // Server routes stay open to a limited caller.
    await hitUncounted(server.url, 1)
    const refusal = server.logs.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'rate limit exceeded')
    expect(refusal).toMatchObject({ level: 'debug', limit: '*', caller: 'ip:127.0.0.1', max: 3 })
  })

  it('gives an agent with an `agents` entry a counter of its own', async () => {
    // The global counter is spent by the test above; beta counts apart, up to its own max.
    for (const remaining of ['1', '0']) {
      const answer = await postJson(`${server.url}/beta/chat/completions`, chat())
      expect([answer.status, answer.headers.get('x-ratelimit-limit'), answer.headers.get('x-ratelimit-remaining')]).toEqual([200, '2', remaining])
    }
    expectRateLimited(await get(`${server.url}/beta`), 2)
  })

  it('counts the base URL by the agent a request names as its model: an agent\'s own counter holds there too', async () => {
    // Both counters are spent by the tests above: beta's own (2) and the caller's global one (3).
    expectRateLimited(await postJson(`${server.url}/chat/completions`, { ...chat(), model: 'beta' }), 2)
    expectRateLimited(await postJson(`${server.url}/chat/completions`, { ...chat(), model: 'alpha' }), 3)
    const models = await get(`${server.url}/models`)
    expect([models.status, models.headers.get('x-ratelimit-limit')]).toEqual([200, null])
  })

  it('keeps counters in memory when `redis` is false, even with REDIS_URL set', async () => {
    const memory = await startLimitedServer({
      env: { REDIS_URL: 'redis://127.0.0.1:1' },
      agents: [{ name: 'alpha', model: 'local/echo' }],
      plugins: { '@robutler/plugin-local': {}, [PLUGIN]: { redis: false, max: 1, timeWindow: 60_000 } },
    })
    try {
      expect(memory.logs.find((line) => line.includes('rate limits on agent routes'))).toContain('"store":"memory"')
      const ready = await get(`${memory.url}/ready`)
      expect([ready.status, Object.keys(ready.json.checks)]).toEqual([200, []])
      expect((await get(`${memory.url}/alpha`)).status).toBe(200)
      expectRateLimited(await get(`${memory.url}/alpha`), 1)
    } finally {
      await memory.close()
    }
  })

  it('refuses a timeWindow it cannot read at load, naming the plugin', async () => {
    await expect(
      startLimitedServer({ agents: [{ name: 'alpha', model: 'local/echo' }], plugins: { [PLUGIN]: { timeWindow: '1 fortnight' } } }),
    ).rejects.toThrow(/plugin-rate-limit[\s\S]*timeWindow/)
  })
})

// The in-memory counters on their own: 10,000 callers tracked per counter scope, the least recently seen forgotten.
describe('plugin-rate-limit counters in memory', () => {
  it('keeps a caller seen often while 10,000 others pass, and forgets one not seen again', () => {
    const windows = new MemoryWindows()
    const limit = { scope: '*', max: 3, timeWindowMs: 60_000, label: '1 minute' }
    expect(windows.take(limit, 'ip:busy')).toMatchObject({ allowed: true, remaining: 2 })
    expect(windows.take(limit, 'ip:once')).toMatchObject({ allowed: true, remaining: 2 })
    for (let i = 0; i < 10_000; i++) {
      windows.take(limit, `ip:passing-${i}`)
      if (i % 1_000 === 0) windows.take({ ...limit, max: 1_000 }, 'ip:busy')
    }
    // Another scope counts apart; the busy caller kept its count, the other starts again.
    expect(windows.take({ ...limit, scope: 'beta' }, 'ip:busy')).toMatchObject({ allowed: true, remaining: 2 })
    expect(windows.take(limit, 'ip:busy')).toMatchObject({ allowed: false, remaining: 0 })
    expect(windows.take(limit, 'ip:once')).toMatchObject({ allowed: true, remaining: 2 })
  })
})

// The plugin on a bare Fastify app with a stand-in kernel, whose auth.identify can answer identities without a user
// id and requests can come from several addresses: the keying order user → key → IP.
describe('plugin-rate-limit keying through kernel.auth.identify', () => {
  const IDENTITIES: Record<string, Identity> = {
    'sk-alice': { userId: 'alice', scope: 'all' },
    'sk-bob': { userId: 'bob', scope: 'all' },
    'sk-service': { userId: '', keyId: 'key_service', scope: 'all' },
  }
  let app: FastifyInstance
  const identified: string[] = []

  async function identify(request: FastifyRequest): Promise<Identity | null> {
    const header = request.headers.authorization
    identified.push(header ?? '-')
    if (header === undefined) return null
    const identity = IDENTITIES[header.slice('Bearer '.length)]
    if (!identity) throw new RobutlerError('RBT_ERR_UNAUTHENTICATED', 'Invalid API key', 401, 'authentication_error')
    return identity
  }

  const rejections: Array<{ name: string; payload: unknown }> = []

  beforeAll(async () => {
    app = Fastify()
    const kernel = {
      urlPrefix: '',
      env: {},
      http: app,
      auth: { addAuthenticator: () => undefined, identify },
      events: { emit: (name: string, payload: unknown) => void rejections.push({ name, payload }) },
      health: { add: () => undefined },
      onClose: () => undefined,
      log: pino({ level: 'silent' }),
    } as unknown as KernelApi
    await plugin.register(kernel, { max: 2 })
    app.setErrorHandler((error: any, _request, reply) => {
      if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter))
      return reply.code(error.statusCode ?? 500).send({ error: { code: error.code } })
    })
    app.get('/:agent', async () => ({ ok: true }))
    await app.ready()
  })
  afterAll(() => app?.close())

  const inject = (remoteAddress: string, token?: string) =>
    app.inject({ method: 'GET', url: '/alpha', remoteAddress, headers: token ? { authorization: `Bearer ${token}` } : {} })

  it('counts a user across IPs, a user-less identity by key id, and anonymous and refused callers by IP', async () => {
    const statuses = async (remoteAddress: string, token?: string) => {
      const out: number[] = []
      for (let i = 0; i < 3; i++) out.push((await inject(remoteAddress, token)).statusCode)
      return out
    }
    // alice from two addresses: one counter.
    expect([(await inject('10.0.0.1', 'sk-alice')).statusCode, (await inject('10.0.0.2', 'sk-alice')).statusCode]).toEqual([200, 200])
    expect((await inject('10.0.0.3', 'sk-alice')).statusCode).toBe(429)
    // bob, from alice's address, has his own.
    expect(await statuses('10.0.0.1', 'sk-bob')).toEqual([200, 200, 429])
    // Each refusal reaches the kernel's event bus (plugin-prometheus counts them).
    expect(rejections.filter((r) => r.name === 'limit:rejected').map((r) => (r.payload as { limit: string }).limit)).toContain('rate')
    expect(await statuses('10.0.0.1', 'sk-service')).toEqual([200, 200, 429])
    // Anonymous from 10.0.0.9, then a guessed key from there: one IP counter.
    expect((await inject('10.0.0.9')).statusCode).toBe(200)
    expect((await inject('10.0.0.9', 'sk-guess')).statusCode).toBe(200)
    expect((await inject('10.0.0.9')).statusCode).toBe(429)
    expect((await inject('10.0.0.8')).statusCode).toBe(200)
    const limited = await inject('10.0.0.9', 'sk-guess')
    expect([limited.statusCode, limited.json().error.code, limited.headers['retry-after']]).toEqual([429, 'RBT_ERR_RATE_LIMITED', expect.any(String)])
    expect(identified.length).toBe(14)
  })

  it('counts requests that carry a credential by client address before looking it up: made-up keys past ipMax cost no lookup', async () => {
    const before = identified.length
    const statuses: number[] = []
    for (let i = 0; i < 25; i++) statuses.push((await inject('10.0.0.77', `sk-made-up-${i}`)).statusCode)
    // ipMax defaults to 10 × max (20): the first 20 were looked up (and, refused, counted by IP: 2 pass), no more.
    expect(identified.length - before).toBe(20)
    expect(statuses.slice(0, 2)).toEqual([200, 200])
    expect(statuses.slice(2).every((status) => status === 429)).toBe(true)
    // Another address is not affected; a known key from a fresh address is counted by its user as before.
    expect((await inject('10.0.0.78', 'sk-made-up-x')).statusCode).toBe(200)
  })
})

// Per identity on a real server, through the fixture authenticator and the kernel's auth.identify.
describe('plugin-rate-limit per identity on a server', () => {
  it('limits each key holder apart and counts refused keys by IP', async () => {
    const server = await startLimitedServer({
      urlPrefix: PREFIX,
      agents: [{ name: 'alpha', model: 'local/echo' }],
      plugins: {
        '@robutler/plugin-local': {},
        'robutler-plugin-keys': { keys: { 'sk-alice': { userId: 'alice', scope: 'all' }, 'sk-bob': { userId: 'bob', scope: 'all' } } },
        [PLUGIN]: { max: 2 },
      },
    })
    try {
      const alice = { authorization: 'Bearer sk-alice' }
      const bob = { 'x-api-key': 'sk-bob' }
      for (let i = 0; i < 2; i++) expect((await postJson(`${server.url}/alpha/chat/completions`, chat(), alice)).status).toBe(200)
      expectRateLimited(await postJson(`${server.url}/alpha/chat/completions`, chat(), alice), 2)
      expect((await postJson(`${server.url}/alpha/chat/completions`, chat(), bob)).status).toBe(200)
      expect((await get(`${server.url}/alpha`)).status).toBe(200)
      // A refused key answers 401 and counts against the IP: anonymous callers from there are now at the limit.
      expect((await get(`${server.url}/alpha`, { authorization: 'Bearer invalid-guess' })).status).toBe(401)
      expectRateLimited(await get(`${server.url}/alpha`), 2)
      expect((await get(`${server.url}/alpha`, bob)).status).toBe(200)
    } finally {
      await server.close()
    }
  })
})

const shared = await reachSharedRedis()

describe.runIf(mustRunRedisTests(shared))('plugin-rate-limit with Redis', () => {
  const keyPrefix = `robutler-test:rate-limit:${randomUUID()}:`
  let redis: Redis
  beforeAll(() => {
    if (shared.unreachable) throw shared.unreachable
    redis = shared.client
  })
  afterAll(async () => {
    if (!redis) return
    await deleteKeys(redis, keyPrefix)
    expect(await redis.keys(`${keyPrefix}*`)).toEqual([])
    redis.disconnect()
  })

  it('two server instances sharing Redis enforce one limit together, per agent too', async () => {
    const config = { max: 5, timeWindow: '1 minute', keyPrefix, agents: { beta: { max: 2 } } }
    const options = { urlPrefix: PREFIX, agents: AGENTS.slice(1) }
    // One finds Redis through REDIS_URL (the default), the other through its config.
    const a = await startLimitedServer({ ...options, env: { REDIS_URL: SHARED_REDIS_URL }, plugins: { '@robutler/plugin-local': {}, [PLUGIN]: config } })
    const b = await startLimitedServer({ ...options, plugins: { '@robutler/plugin-local': {}, [PLUGIN]: { ...config, redis: SHARED_REDIS_URL } } })
    try {
      expect(a.url).not.toBe(b.url)
      const remaining: Array<string | null> = []
      for (let i = 0; i < 5; i++) {
        const answer = await postJson(`${(i % 2 === 0 ? a : b).url}/gamma/chat/completions`, chat())
        expect(answer.status).toBe(200)
        remaining.push(answer.headers.get('x-ratelimit-remaining'))
      }
      expect(remaining).toEqual(['4', '3', '2', '1', '0'])
      expectRateLimited(await get(`${b.url}/gamma`), 5)
      expectRateLimited(await get(`${a.url}/gamma`), 5)

      expect((await get(`${a.url}/beta`)).headers.get('x-ratelimit-remaining')).toBe('1')
      expect((await get(`${b.url}/beta`)).headers.get('x-ratelimit-remaining')).toBe('0')
      expectRateLimited(await get(`${a.url}/beta`), 2)

      expect((await redis.keys(`${keyPrefix}*`)).sort()).toEqual([`${keyPrefix}*:ip:127.0.0.1`, `${keyPrefix}beta:ip:127.0.0.1`])
      // The key holds the slots granted in the window: the 5 admitted requests; refusals add nothing.
      expect(Number(await redis.get(`${keyPrefix}*:ip:127.0.0.1`))).toBe(5)
      expect(await redis.pttl(`${keyPrefix}*:ip:127.0.0.1`)).toBeGreaterThan(50_000)
      for (const server of [a, b]) {
        const ready = await get(`${server.url}/ready`)
        expect([ready.status, ready.json.checks['rate-limit-redis']]).toEqual([200, { status: 'ok' }])
      }
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('two servers under concurrent load admit at most max together, and refuse early by at most one lease', async () => {
    const max = 1000
    const config = { max, timeWindow: '1 minute', keyPrefix: `${keyPrefix}load:` }
    const options = { urlPrefix: PREFIX, agents: AGENTS.slice(1) }
    const [a, b] = await Promise.all([0, 1].map(() => startLimitedServer({ ...options, plugins: { '@robutler/plugin-local': {}, [PLUGIN]: { ...config, redis: SHARED_REDIS_URL } } })))
    /** `count` GETs of /gamma on `server`, 25 at a time: the statuses. */
    const burst = async (server: TestServer, count: number) => {
      const statuses: number[] = []
      for (let sent = 0; sent < count; sent += 25) {
        const answers = await Promise.all(Array.from({ length: Math.min(25, count - sent) }, () => get(`${server.url}/gamma`)))
        statuses.push(...answers.map((answer) => answer.status))
      }
      return statuses
    }
    const admitted = (statuses: number[]) => statuses.filter((status) => status === 200).length
    try {
      // a takes leases as its rate grows; then b runs the caller out while a may still hold part of a lease.
      const first = await burst(a, 600)
      expect(admitted(first)).toBe(600)
      const second = await burst(b, 600)
      expect(second.every((status) => status === 200 || status === 429)).toBe(true)
      const counted = Number(await redis.get(`${keyPrefix}load:*:ip:127.0.0.1`))
      expect(counted).toBe(max)
      // Never over max; early by at most a's unused lease: ⌊max / 100⌋.
      expect(600 + admitted(second)).toBeLessThanOrEqual(max)
      expect(600 + admitted(second)).toBeGreaterThanOrEqual(max - max / 100)
      // a serves what it still holds, then refuses: max exactly, together.
      const last = await burst(a, 30)
      expect(600 + admitted(second) + admitted(last)).toBe(max)
      expect(last.at(-1)).toBe(429)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('leases slots from Redis: a busy caller is answered mostly without a round trip, never past max, early by at most one lease', async () => {
    const limit = { scope: '*', max: 100_000, timeWindowMs: 60_000, label: '1 minute' }
    const clients = [0, 1].map(() => new Redis(SHARED_REDIS_URL))
    const [a, b] = clients.map((client) => new RedisWindows(client, `${keyPrefix}lease:`))
    /** `count` takes of one caller, 50 at a time: how many were allowed, and how many answered at once. */
    const takes = async (windows: RedisWindows, count: number) => {
      let allowed = 0
      let atOnce = 0
      for (let sent = 0; sent < count; sent += 50) {
        const verdicts = Array.from({ length: Math.min(50, count - sent) }, () => windows.take(limit, 'ip:10.1.1.1'))
        atOnce += verdicts.filter((verdict) => !(verdict instanceof Promise)).length
        for (const verdict of await Promise.all(verdicts)) if (verdict.allowed) allowed++
      }
      return { allowed, atOnce }
    }
    try {
      const first = await takes(a, 60_000)
      expect(first.allowed).toBe(60_000)
      expect(first.atOnce).toBeGreaterThan(60_000 * 0.95)
      // b runs the window out while a holds what is left of its lease: at most largestLease (1,000) unused.
      const second = await takes(b, 60_000)
      expect(60_000 + second.allowed).toBeLessThanOrEqual(limit.max)
      expect(60_000 + second.allowed).toBeGreaterThanOrEqual(limit.max - largestLease(limit))
      expect(largestLease(limit)).toBe(1_000)
      const last = await takes(a, 2_000)
      expect(60_000 + second.allowed + last.allowed).toBe(limit.max)
      expect(Number(await redis.get(`${keyPrefix}lease:*:ip:10.1.1.1`))).toBe(limit.max)
      // Once Redis has said the window is spent, refusals are answered at once until it ends.
      const refused = a.take(limit, 'ip:10.1.1.1')
      expect(refused).toMatchObject({ allowed: false, remaining: 0 })
      expect((refused as { resetMs: number }).resetMs).toBeGreaterThan(50_000)
    } finally {
      for (const client of clients) client.disconnect()
    }
  })

  it('starts a new window when the old one ends: slots leased in the old one are void', async () => {
    const limit = { scope: '*', max: 200, timeWindowMs: 300, label: '300 ms' }
    const client = new Redis(SHARED_REDIS_URL)
    const windows = new RedisWindows(client, `${keyPrefix}short:`)
    const allowedOf = async (count: number) => {
      const verdicts = await Promise.all(Array.from({ length: count }, () => windows.take(limit, 'ip:10.1.1.2')))
      return verdicts.filter((verdict) => verdict.allowed).length
    }
    try {
      expect(await allowedOf(150)).toBe(150)
      await sleep(350)
      // The new window counts from zero in Redis, whatever this process held of the old one.
      expect(await allowedOf(250)).toBe(200)
      expect(Number(await redis.get(`${keyPrefix}short:*:ip:10.1.1.2`))).toBe(200)
    } finally {
      client.disconnect()
    }
  })

  it('fails open while Redis is away (a private Redis, stopped), and starts without it', async () => {
    const privateRedis = await startPrivateRedis()
    const options = { agents: [{ name: 'alpha', model: 'local/echo' }] }
    const server = await startLimitedServer({
      ...options,
      plugins: { '@robutler/plugin-local': { chunkDelayMs: 20 }, [PLUGIN]: { max: 2, redis: privateRedis.url, maxParallel: 1 } },
    })
    try {
      expect((await get(`${server.url}/alpha`)).headers.get('x-ratelimit-remaining')).toBe('1')
      await privateRedis.stop()
      for (let i = 0; i < 4; i++) {
        const answer = await get(`${server.url}/alpha`)
        expect([answer.status, answer.headers.get('x-ratelimit-limit')]).toEqual([200, null])
      }
      // The parallel cap is in process: it still holds while Redis is away.
      const controller = new AbortController()
      const held = await fetch(`${server.url}/alpha/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...chat(words(50)), stream: true }),
        signal: controller.signal,
      })
      const reader = held.body!.getReader()
      await reader.read()
      expect((await get(`${server.url}/alpha`)).json.error.code).toBe('RBT_ERR_TOO_MANY_PARALLEL')
      controller.abort()
      await reader.cancel().catch(() => undefined)
      const warnings = server.logs.filter((line) => line.includes('rate-limit store unreachable') && line.includes('"level":"warn"'))
      expect(warnings.length).toBe(1)
      const ready = await get(`${server.url}/ready`)
      expect([ready.status, ready.json.failing]).toEqual([503, ['rate-limit-redis']])
    } finally {
      await privateRedis.stop()
      await server.close()
    }

    // Down at boot: the server starts, serves (limits open) and reports not ready.
    const down = await startLimitedServer({ ...options, plugins: { '@robutler/plugin-local': {}, [PLUGIN]: { max: 1, redis: privateRedis.url } } })
    try {
      expect(down.logs.some((line) => line.includes('rate-limit store unreachable') && line.includes('at startup'))).toBe(true)
      expect((await get(`${down.url}/alpha`)).status).toBe(200)
      expect((await get(`${down.url}/alpha`)).status).toBe(200)
      expect((await get(`${down.url}/ready`)).status).toBe(503)
    } finally {
      await down.close()
    }
  })
})

describe('plugin-rate-limit parallel cap', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startLimitedServer({
      urlPrefix: PREFIX,
      agents: [{ name: 'alpha', model: 'local/echo' }],
      plugins: { '@robutler/plugin-local': { chunkDelayMs: 20 }, [PLUGIN]: { max: 100_000, maxParallel: 5 } },
    })
  })
  afterAll(() => server?.close())

  const stream = (text: string, signal?: AbortSignal) =>
    fetch(`${server.url}/alpha/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...chat(text), stream: true }),
      signal,
    })

  it('holds under 50 concurrent streams: at most 5 in flight, the rest 429 RBT_ERR_TOO_MANY_PARALLEL', async () => {
    const spans: Array<[number, number]> = []
    const refused: any[] = []
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        // 40 words at 20 ms each: every admitted stream lasts ~800 ms, so the 50 requests overlap.
        const response = await stream(words(40))
        const start = performance.now()
        const body = await response.text()
        if (response.status === 200) {
          expect(body.endsWith('data: [DONE]\n\n')).toBe(true)
          spans.push([start, performance.now()])
        } else {
          refused.push({ status: response.status, retryAfter: response.headers.get('retry-after'), body: JSON.parse(body) })
        }
      }),
    )
    const points = spans.flatMap(([start, end]) => [[start, 1], [end, -1]] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1])
    let inFlight = 0
    let peak = 0
    for (const [, step] of points) peak = Math.max(peak, (inFlight += step))
    expect(peak).toBe(5)
    expect(spans.length + refused.length).toBe(50)
    expect(refused.length).toBeGreaterThanOrEqual(40)
    expect(refused[0]).toEqual({
      status: 429,
      retryAfter: '1',
      body: { error: { message: expect.stringContaining('at most 5 at a time'), type: 'rate_limit_error', code: 'RBT_ERR_TOO_MANY_PARALLEL', param: null } },
    })
    expect(new Set(refused.map((r) => r.body.error.code))).toEqual(new Set(['RBT_ERR_TOO_MANY_PARALLEL']))
  })

  it('frees slots when responses end', async () => {
    const statuses = await Promise.all(Array.from({ length: 5 }, async () => {
      const response = await stream(words(5))
      await response.text()
      return response.status
    }))
    expect(statuses).toEqual([200, 200, 200, 200, 200])
  })

  it('frees slots when clients disconnect mid-stream', async () => {
    const controllers = Array.from({ length: 5 }, () => new AbortController())
    // 200 words at 20 ms: these streams would run for 4 s if their clients stayed.
    const readers = await Promise.all(
      controllers.map(async (controller) => {
        const response = await stream(words(200), controller.signal)
        expect(response.status).toBe(200)
        const reader = response.body!.getReader()
        await reader.read()
        return reader
      }),
    )
    const sixth = await postJson(`${server.url}/alpha/chat/completions`, chat())
    expect([sixth.status, sixth.json.error.code]).toEqual([429, 'RBT_ERR_TOO_MANY_PARALLEL'])

    const abortedAt = performance.now()
    for (const controller of controllers) controller.abort()
    await Promise.all(readers.map((reader) => reader.cancel().catch(() => undefined)))
    let admitted = await postJson(`${server.url}/alpha/chat/completions`, chat())
    while (admitted.status === 429 && performance.now() - abortedAt < 2_000) {
      await sleep(20)
      admitted = await postJson(`${server.url}/alpha/chat/completions`, chat())
    }
    expect(admitted.status).toBe(200)
    const statuses = await Promise.all(Array.from({ length: 5 }, async () => {
      const response = await stream(words(3))
      await response.text()
      return response.status
    }))
    expect(statuses).toEqual([200, 200, 200, 200, 200])
    expect(performance.now() - abortedAt).toBeLessThan(2_000)
  })
})
