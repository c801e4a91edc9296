// Faults under load, each with the server staying up and nothing lost that was accepted: upstream stalls and
// mid-stream drops, worker threads that die, a cluster worker SIGKILLed, Redis and PostgreSQL (private
// instances) going away and coming back, and SIGTERM under full load. Every request of every load is accounted
// for: a success, or the deliberate error that fault must produce; none may hang (each call has a timeout).
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI, type FakeOpenAI } from '../fixtures/fake-openai.js'
import { agentsApp, logLines, startAgentsServer, type AgentsApp, type AgentsServer } from '../helpers/agents-postgres-app.js'
import { cleanEnv, killIfAlive, startServer as startCli, type RunningServer } from '../helpers/cli-process.js'
import { echoUpstream } from '../helpers/echo-upstream.js'
import { call, describeCall, keepAliveAgent, runLoad, streamText, Tally, type CallResult } from '../helpers/http-load.js'
import { findPostgresBin, startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.js'
import { startLimitedServer } from '../helpers/rate-limit-app.js'
import { startRestartableRedis, type RestartableRedis } from '../helpers/restartable-redis.js'
import { linkedApp, startServer, type TestServer } from '../helpers/test-server.js'

const CALL_TIMEOUT_MS = 20_000
const ask = (content: string, stream = false) => ({ stream, messages: [{ role: 'user', content }] })
const contentOf = (res: CallResult): unknown => res.json?.choices?.[0]?.message?.content
/** Connection-level failures: the socket went away before (or while) the answer came. */
const CONNECTION_ERRORS = new Set(['ECONNRESET', 'socket hang up', 'TRUNCATED', 'EPIPE', 'aborted'])

async function until(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<number> {
  const started = performance.now()
  while (!(await condition())) {
    if (performance.now() - started > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(25)
  }
  return Math.round(performance.now() - started)
}

function report(name: string, tally: Tally, extra: Record<string, unknown> = {}): void {
  console.info(`${name}: ${JSON.stringify({ counts: tally.counts, timingsMs: tally.timings(), ...extra }, null, 1)}`)
}

function expectAllAccounted(tally: Tally, total: number, load: { rejected: unknown[]; started: number }): void {
  expect(load.rejected).toEqual([])
  expect(load.started, 'the load hit its time bound').toBe(total)
  expect(tally.unexpected).toEqual([])
  expect(tally.total()).toBe(total)
}

/** True when the answer is an OpenAI-shaped error with this status and code. */
function isError(res: CallResult, status: number, code: string): boolean {
  const error = res.json?.error
  return res.status === status && error?.code === code && typeof error.message === 'string' && typeof error.type === 'string' && 'param' in error
}

const PROVIDER_TIMEOUT_S = 2

describe('upstream stalls and drops mid-stream under concurrent load', () => {
  let fake: FakeOpenAI
  let t: TestServer

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    fake.always(echoUpstream())
    // 2 s, not 1: on 2 busy cores a healthy call through the fake upstream took over 1 s now and then (504s in
    // two runs of three while other builds shared the machine); the timeout still bounds every stall.
    t = await startServer(['openai'], {
      providerTimeout: PROVIDER_TIMEOUT_S,
      providerRetries: 1,
      plugins: { '@robutler/plugin-openai': { apiKey: 'sk-fault-not-a-key', baseURL: `${fake.url}/v1` } },
      agents: [{ name: 'gpt', model: 'openai/gpt-fault' }],
    })
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })

  it('faulty calls end with an error (an event then [DONE] once streaming), never a hang; the others are unaffected', async () => {
    const TOTAL = 1200
    const agent = keepAliveAgent(48)
    const tally = new Tally()
    const url = `${t.url}/gpt/chat/completions`
    const post = (body: unknown) => call(url, { agent, body, timeoutMs: CALL_TIMEOUT_MS })

    const job = async (i: number) => {
      const kind = i % 12
      const text = `req ${i} alpha beta gamma`
      const partial = `req ${i} ` // the two content chunks sent before a stall or a drop
      if (kind <= 5) {
        const stream = kind % 2 === 1
        const res = await post(ask(text, stream))
        const streamed = streamText(res.sse?.events ?? [])
        const ok = res.status === 200 && (stream ? res.sse?.done && streamed.content === text && streamed.errors.length === 0 : contentOf(res) === text)
        return ok ? tally.add('ok', res.endedAt - res.startedAt) : tally.fail(i, 'ok', describeCall(res))
      }
      if (kind === 6 || kind === 7) {
        const fault = kind === 6 ? 'stall' : 'drop'
        const res = await post(ask(`#${fault}-after 2 ${text}`, true))
        const { content, errors } = streamText(res.sse?.events ?? [])
        const code = fault === 'stall' ? 'RBT_ERR_PROVIDER_TIMEOUT' : 'RBT_ERR_PROVIDER_FAILED'
        const last = res.sse?.events.at(-1)
        const ok = res.status === 200 && res.error === null && res.sse?.done && content === partial && errors.length === 1 && last?.error?.code === code
        return ok ? tally.add(`stream-${fault}:error-event+[DONE]`, res.endedAt - res.startedAt) : tally.fail(i, `stream-${fault}`, describeCall(res))
      }
      if (kind === 8 || kind === 9) {
        const res = await post(ask(`#stall-after 0 ${text}`, kind === 9))
        return isError(res, 504, 'RBT_ERR_PROVIDER_TIMEOUT')
          ? tally.add(`${kind === 9 ? 'stream' : 'json'}-stall-before-answer:504`, res.endedAt - res.startedAt)
          : tally.fail(i, 'stall-before-answer', describeCall(res))
      }
      if (kind === 10) {
        const res = await post(ask(`#drop-after 0 ${text}`, i % 24 < 12))
        return isError(res, 502, 'RBT_ERR_PROVIDER_FAILED') ? tally.add('drop-before-answer:502') : tally.fail(i, 'drop-before-answer', describeCall(res))
      }
      const stream = i % 24 < 12
      const res = await post(ask(`#reset-once:r${i} ${text}`, stream))
      const got = stream ? streamText(res.sse?.events ?? []).content : contentOf(res)
      return res.status === 200 && got === text ? tally.add('reset-once:retried-200') : tally.fail(i, 'reset-once', describeCall(res))
    }

    const load = await runLoad({ total: TOTAL, concurrency: 48, maxMs: 180_000, job })
    agent.destroy()
    report('upstream faults', tally, { seconds: Math.round(load.elapsedMs / 1000) })
    expectAllAccounted(tally, TOTAL, load)
    // Healthy calls never waited behind a stalled one (which waits out the provider timeout).
    expect(tally.timings().ok!.p99).toBeLessThan(PROVIDER_TIMEOUT_S * 1000)
    // Every stalled upstream call was given up and its connection closed: nothing leaks upstream.
    const stalled = () => fake.requests.filter((r) => JSON.stringify(r.body?.messages ?? '').includes('#stall-after'))
    await fake.waitFor(() => stalled().every((r) => r.closed), 5_000)
    expect(stalled().length).toBe(TOTAL / 12 * 3)
  })
})

describe('a client that stops reading, then goes away mid-stream', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startServer(['local'], { plugins: { '@robutler/plugin-local': {} }, agents: [{ name: 'echo', model: 'local/echo' }] })
  })
  afterAll(() => t?.close())

  it('is a client disconnect, not an internal error: no error log line, no RBT_ERR_INTERNAL on its request', async () => {
    // 100,000 words stream as ~10 MB of chunks: far more than the socket buffers hold, so the server waits for
    // the client to read (back-pressure) when the client leaves.
    const text = Array.from({ length: 100_000 }, (_, i) => `w${i}`).join(' ')
    let requestId = ''
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${t.url}/echo/chat/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
        requestId = String(res.headers['x-request-id'])
        res.once('data', () => {
          res.pause()
          setTimeout(() => {
            req.destroy()
            resolve()
          }, 500)
        })
      })
      req.on('error', () => undefined)
      req.end(JSON.stringify(ask(text, true)))
    })
    const entries = () => t.logs.map((line) => JSON.parse(line) as Record<string, any>).filter((l) => l.reqId === requestId)
    await until(() => entries().some((l) => l.msg === 'request'), 5_000, 'the request to end')
    const end = entries().find((l) => l.msg === 'request')!
    expect(end.aborted).toBe(true)
    // Fails today: the abort surfaces as the AbortError of SseSink's `once(raw, 'drain', { signal })`, which
    // failure() in routes-agent.ts does not recognise as the client's leaving (see docs/reliability.md).
    expect(entries().filter((l) => l.level === 'error').map((l) => `${l.msg}: ${l.err?.message}`)).toEqual([])
    expect(end.error).toBeUndefined()
  })
})

describe('worker threads die during load', () => {
  let t: TestServer
  const primes = (below: number) => {
    const sieve = new Uint8Array(below)
    let count = 0
    for (let n = 2; n < below; n++) {
      if (sieve[n]) continue
      count++
      for (let m = n * n; m < below; m += n) sieve[m] = 1
    }
    return count
  }

  beforeAll(async () => {
    t = await startServer(['local', 'cpu'], {
      workerThreads: 2,
      workerQueue: 1000,
      workerResourceLimits: { maxOldGenerationSizeMb: 64 },
      plugins: { '@robutler/plugin-local': {} },
      agents: [{ name: 'cpu', model: 'local/echo', skills: { 'robutler-skill-cpu': {} } }],
    })
  })
  afterAll(() => t?.close())

  it('a task that crashes its thread (exit, throw, out of memory) fails alone; every other task succeeds', async () => {
    const TOTAL = 300
    const agent = keepAliveAgent(12)
    const tally = new Tally()
    const url = `${t.url}/cpu/chat/completions`
    const crashes: Record<number, [string, string]> = { 5: ['quit', 'exited'], 6: ['explode', 'exploded on purpose'], 7: ['hog', 'out of memory'] }

    const job = async (i: number) => {
      const kind = i % 10
      const below = 20_000 + (i % 50) * 1000
      const stream = i % 2 === 1
      const read = (res: CallResult) => String(stream ? streamText(res.sse?.events ?? []).content : contentOf(res))
      const okPrimes = (line: string | undefined) => {
        try {
          const parsed = JSON.parse(line ?? '')
          return parsed.below === below && parsed.count === primes(below)
        } catch {
          return false
        }
      }
      const failed = (line: string | undefined, fragment: string) => {
        try {
          const error = JSON.parse(line ?? '').error
          return error.code === 'RBT_ERR_TOOL_FAILED' && String(error.message).includes(fragment)
        } catch {
          return false
        }
      }
      const crash = crashes[kind]
      // Kind 8 calls two tools in one turn: primes, and a sibling that kills its thread.
      const line = crash ? `/tool ${crash[0]} {}` : `/tool primes {"below": ${below}}${kind === 8 ? '\n/tool quit {}' : ''}`
      const res = await call(url, { agent, timeoutMs: CALL_TIMEOUT_MS, body: ask(line, stream) })
      if (res.status !== 200 || res.error !== null) return tally.fail(i, `kind${kind}`, describeCall(res))
      const lines = read(res).split('\n')
      if (crash) return failed(lines[0], crash[1]) ? tally.add(`${crash[0]}:failed-alone`) : tally.fail(i, crash[0], describeCall(res))
      if (kind === 8) {
        return okPrimes(lines[0]) && failed(lines[1], 'exited') ? tally.add('primes+quit:sibling-ok') : tally.fail(i, 'primes+quit', describeCall(res))
      }
      return okPrimes(lines[0]) ? tally.add('primes:ok', res.endedAt - res.startedAt) : tally.fail(i, 'primes', describeCall(res))
    }

    const load = await runLoad({ total: TOTAL, concurrency: 12, maxMs: 180_000, job })
    agent.destroy()
    report('worker thread deaths', tally, { seconds: Math.round(load.elapsedMs / 1000) })
    expectAllAccounted(tally, TOTAL, load)
    const after = await call(url, { agent: false, timeoutMs: 5_000, body: ask('/tool whoami {}') })
    expect(JSON.parse(String(contentOf(after))).threadId).toBeGreaterThan(0)
  })
})

describe('a cluster worker SIGKILLed under load (robutler start --workers 2)', () => {
  let app: Awaited<ReturnType<typeof linkedApp>>
  let server: RunningServer
  const listening = () => server.logLines().filter((l) => /listening on/.test(l.msg ?? '')).length
  const deaths = () => server.logLines().filter((l) => l.msg === 'worker died; replacing it')

  beforeAll(async () => {
    app = await linkedApp(['local', 'cpu'])
    const file = join(app.dir, 'robutler.config.json')
    await writeFile(
      file,
      JSON.stringify({
        server: { workerThreads: 1, drainTimeout: 10 },
        plugins: { '@robutler/plugin-local': { chunkDelayMs: 10 } },
        skills: { 'robutler-skill-cpu': { isolate: false } },
        agents: [{ name: 'cpu', model: 'local/echo', skills: { 'robutler-skill-cpu': {} } }],
      }),
    )
    server = await startCli(['--config', file, '--port', '0', '--workers', '2'], { env: cleanEnv() })
    await until(() => listening() >= 2, 20_000, 'both workers to listen')
  }, 60_000)
  afterAll(async () => {
    killIfAlive(server?.child)
    await app?.cleanup()
  })

  it('requests a dead worker had accepted fail with a connection error; all later ones succeed; it is replaced', async () => {
    const KILLS = 3
    const url = `${server.address}/cpu/chat/completions`
    const pooled = keepAliveAgent(16)
    const results: Array<{ i: number; res: CallResult; kind: string; lane: string }> = []
    const stop = { stopped: false }
    const seen = new Map<number, number>() // worker pid → when it last answered
    const killAts: number[] = []
    const victims: number[] = []

    // Keep-alive connections, and a fresh connection per request (each one handed to a worker by the primary).
    const job = (lane: 'keep-alive' | 'fresh') => async (i: number) => {
      const kind = i % 3 === 0 ? 'whoami' : i % 3 === 1 ? 'stream' : 'busy'
      const text = `kill test ${i} one two three four five six seven eight`
      const body = kind === 'whoami' ? ask('/tool whoami {}') : kind === 'stream' ? ask(text, true) : ask('/tool busy {"ms": 20}')
      // 10 s: far past any answer here; a call that reaches it hung.
      const res = await call(url, { agent: lane === 'fresh' ? false : pooled, body, timeoutMs: 10_000 })
      results.push({ i, res, kind, lane })
      if (kind === 'whoami' && res.status === 200) seen.set(JSON.parse(String(contentOf(res))).pid, performance.now())
    }
    const loading = Promise.all([
      runLoad({ total: 100_000, concurrency: 16, maxMs: 90_000, job: job('keep-alive'), stop }),
      runLoad({ total: 100_000, concurrency: 8, maxMs: 90_000, job: job('fresh'), stop }),
    ])

    for (let k = 0; k < KILLS; k++) {
      const live = () => [...seen].filter(([pid, at]) => !victims.includes(pid) && performance.now() - at < 1000).map(([pid]) => pid)
      await until(() => live().length === 2, 20_000, 'load on two live workers')
      await sleep(1000)
      const victim = live()[0]!
      victims.push(victim)
      killAts.push(performance.now())
      process.kill(victim, 'SIGKILL')
      await until(() => deaths().some((l) => l.workerPid === victim), 10_000, 'the primary to see the death')
      await until(() => listening() >= 3 + k, 20_000, 'a replacement worker to listen')
    }
    const replacedAt = performance.now()
    await until(() => results.filter((r) => r.res.startedAt > replacedAt).length > 600, 30_000, 'load after the last replacement')
    stop.stopped = true
    const loads = await loading
    pooled.destroy()

    const tally = new Tally()
    for (const { i, res, kind, lane } of results) {
      const ok = res.status === 200 && res.error === null && (kind !== 'stream' || (res.sse?.done && streamText(res.sse.events).errors.length === 0))
      if (ok) {
        tally.add('ok')
        continue
      }
      const connectionError = res.error !== null && CONNECTION_ERRORS.has(res.error)
      const sinceKill = Math.min(...killAts.map((at) => (res.startedAt >= at ? res.startedAt - at : Infinity)))
      // Accepted by a victim: in flight when it died.
      if (connectionError && killAts.some((at) => res.startedAt <= at && res.endedAt >= at)) tally.add(`in-flight-on-victim:${res.error}`)
      // A keep-alive socket to the victim, picked for a new request before its close was seen: the request never
      // reached a server (Node marks it reusedSocket; clients retry exactly these).
      else if (connectionError && lane === 'keep-alive' && res.reusedSocket && res.status === null && sinceKill < 100) tally.add('stale-keep-alive-socket')
      else {
        const nearest = killAts.reduce((best, at) => (Math.abs(res.startedAt - at) < Math.abs(res.startedAt - best) ? at : best))
        tally.fail(i, `${lane}:${kind}`, `${describeCall(res)} startedAt-nearestKill=${Math.round(res.startedAt - nearest)}ms tookMs=${Math.round(res.endedAt - res.startedAt)}`)
      }
    }
    const lost = Object.entries(tally.counts).filter(([k]) => k.startsWith('in-flight-on-victim')).reduce((n, [, v]) => n + v, 0)
    report('cluster worker SIGKILL', tally, { kills: KILLS, seconds: Math.round(Math.max(...loads.map((l) => l.elapsedMs)) / 1000) })
    for (const load of loads) expect(load.rejected).toEqual([])
    // Fails while `robutler start --workers` uses node:cluster's round-robin scheduling: a connection the primary
    // hands to a worker as it dies is neither served nor closed, and the client hangs (see docs/reliability.md).
    expect(tally.unexpected).toEqual([])
    expect(tally.total()).toBe(results.length)
    expect(lost, 'the victims had accepted requests in flight').toBeGreaterThan(0)
    expect(lost).toBeLessThanOrEqual(24 * KILLS)
    expect(deaths().map((l) => [l.workerPid, l.signal])).toEqual(victims.map((pid) => [pid, 'SIGKILL']))

    // Two processes serve again, neither of them a victim.
    const pidsAfter = new Set<number>()
    const deadline = performance.now() + 10_000
    while (pidsAfter.size < 2 && performance.now() < deadline) {
      const res = await call(url, { agent: false, timeoutMs: 5_000, body: ask('/tool whoami {}') })
      expect(res.status).toBe(200)
      pidsAfter.add(JSON.parse(String(contentOf(res))).pid)
    }
    expect(pidsAfter.size).toBe(2)
    for (const victim of victims) expect(pidsAfter.has(victim)).toBe(false)
  })
})

describe('Redis goes away and comes back under load (plugin-rate-limit, a private redis-server)', () => {
  let redis: RestartableRedis
  let t: TestServer
  const PLUGIN = '@robutler/plugin-rate-limit'

  beforeAll(async () => {
    redis = await startRestartableRedis()
    t = await startLimitedServer({
      agents: [
        { name: 'alpha', model: 'local/echo' },
        { name: 'limited', model: 'local/echo' },
      ],
      plugins: {
        '@robutler/plugin-local': {},
        [PLUGIN]: { max: 1_000_000, timeWindow: '1 minute', redis: redis.url, keyPrefix: `rbt-fault-${process.pid}:`, agents: { limited: { max: 5 } } },
      },
    })
  })
  afterAll(async () => {
    await t?.close()
    await redis?.stop()
  })

  it('window limits fail open while it is away (/ready 503 naming rate-limit-redis), and count again once it is back', async () => {
    const agent = keepAliveAgent(16)
    const ready = () => call(`${t.url}/ready`, { agent: false, timeoutMs: 5_000 })
    const limited = () => call(`${t.url}/limited/chat/completions`, { agent: false, timeoutMs: 5_000, body: ask('limited') })
    const results: Array<{ i: number; res: CallResult }> = []
    const stop = { stopped: false }
    const job = async (i: number) => {
      results.push({ i, res: await call(`${t.url}/alpha/chat/completions`, { agent, timeoutMs: CALL_TIMEOUT_MS, body: ask(`load ${i}`) }) })
    }
    const loading = runLoad({ total: 100_000, concurrency: 16, maxMs: 90_000, job, stop })

    // Up: counted. The per-agent limit of 5 holds.
    await until(() => results.length > 300, 10_000, 'load')
    const upLimited = []
    for (let i = 0; i < 6; i++) upLimited.push(await limited())
    expect(upLimited.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429])
    expect(upLimited[5]!.json.error.code).toBe('RBT_ERR_RATE_LIMITED')

    const downAt = performance.now()
    await redis.stop()
    const notReadyIn = await until(async () => (await ready()).status === 503, 10_000, '/ready to fail')
    const away = await ready()
    expect(away.json).toMatchObject({ status: 'not_ready', failing: ['rate-limit-redis'] })
    expect(away.json.checks['rate-limit-redis'].status).toBe('failing')
    await sleep(1500)
    // Fail-open: the exhausted per-agent limit lets requests through while its counter cannot be read.
    const downLimited = []
    for (let i = 0; i < 6; i++) downLimited.push(await limited())
    expect(downLimited.map((r) => [r.status, r.headers['x-ratelimit-limit']])).toEqual(Array(6).fill([200, undefined]))
    const downUntil = performance.now()

    await redis.start()
    const backAt = performance.now()
    const readyIn = await until(async () => (await ready()).status === 200, 20_000, '/ready to pass again')
    const readyAt = performance.now()
    // Back, and empty (no persistence): the per-agent window counts from zero again.
    const backLimited = []
    for (let i = 0; i < 6; i++) backLimited.push(await limited())
    expect(backLimited.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429])
    await until(() => results.filter((r) => r.res.startedAt > readyAt).length > 300, 20_000, 'load after recovery')
    stop.stopped = true
    const load = await loading
    agent.destroy()

    const tally = new Tally()
    for (const { i, res } of results) {
      if (res.status !== 200 || contentOf(res) !== `load ${i}`) {
        tally.fail(i, 'alpha', describeCall(res))
        continue
      }
      const counted = res.headers['x-ratelimit-limit'] === '1000000'
      const phase = res.endedAt < downAt ? 'up' : res.startedAt > downAt + 1000 && res.endedAt < downUntil ? 'down' : res.startedAt > readyAt ? 'back' : 'transition'
      if (phase === 'up' && !counted) tally.fail(i, 'up:uncounted', describeCall(res))
      else if (phase === 'down' && counted) tally.fail(i, 'down:counted', describeCall(res))
      else if (phase === 'back' && !counted) tally.fail(i, 'back:uncounted', describeCall(res))
      else tally.add(`${phase}:200${counted ? ':counted' : ':open'}`, res.endedAt - res.startedAt)
    }
    report('redis outage', tally, { notReadyInMs: notReadyIn, readyAgainInMs: readyIn, outageMs: Math.round(backAt - downAt) })
    expect(load.rejected).toEqual([])
    expect(tally.unexpected).toEqual([])
    expect(tally.counts['down:200:open']).toBeGreaterThan(100)
    // A request never waits long for a Redis that is away (the store gives up after 500 ms).
    expect(tally.timings()['down:200:open']!.p99).toBeLessThan(1000)
    const warnings = t.logs.filter((line) => line.includes('rate-limit store unreachable') && line.includes('"level":"warn"'))
    expect(warnings.length).toBeGreaterThanOrEqual(1)
    expect(warnings.length).toBeLessThanOrEqual(3) // at most one every 10 s
  })
})

const PG_BIN = findPostgresBin()

describe.skipIf(!PG_BIN && process.env.CI !== 'true')('PostgreSQL goes away and comes back under load (plugin-agents-postgres, a private server)', () => {
  let db: PrivatePostgres
  let app: AgentsApp
  let s: AgentsServer
  const STEADY = ['steady-a', 'steady-b', 'steady-c', 'steady-d']

  const insert = async (name: string) => {
    const client = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: 3000 })
    await client.connect()
    try {
      await client.query(`INSERT INTO robutler_agents (name, config) VALUES ($1, $2)`, [name, { model: 'local/echo', description: name }])
    } finally {
      await client.end()
    }
  }

  beforeAll(async () => {
    db = await startPrivatePostgres(PG_BIN)
    app = await agentsApp({ database: db.url })
    s = await startAgentsServer(app, { logLevel: 'info' })
    for (const name of STEADY) await insert(name)
  }, 90_000)
  afterAll(async () => {
    await s?.close()
    await app?.cleanup()
    await db?.destroy()
  }, 60_000)

  it('cached agents keep serving, unknown ones are 503 while it is away, and everything recovers', async () => {
    const agent = keepAliveAgent(16)
    const ready = () => call(`${s.url}/ready`, { agent: false, timeoutMs: 5_000 })
    for (const name of STEADY) expect((await call(`${s.url}/${name}/chat/completions`, { agent, timeoutMs: 5_000, body: ask('warm') })).status).toBe(200)

    const results: Array<{ i: number; res: CallResult; unknown: boolean }> = []
    const stop = { stopped: false }
    const job = async (i: number) => {
      // One request in 8 names an agent no one has: a database lookup every time (unique names are never cached).
      const unknown = i % 8 === 7
      const name = unknown ? `ghost-${i}` : STEADY[i % STEADY.length]!
      results.push({ i, unknown, res: await call(`${s.url}/${name}/chat/completions`, { agent, timeoutMs: CALL_TIMEOUT_MS, body: ask(`pg ${i}`) }) })
    }
    const loading = runLoad({ total: 100_000, concurrency: 16, maxMs: 120_000, job, stop })
    await until(() => results.length > 300, 10_000, 'load')

    const downAt = performance.now()
    await db.stop()
    await until(() => logLines(s.logs, /notifications lost/).length > 0, 10_000, 'the plugin to see the loss')
    const notReady = await ready()
    expect([notReady.status, notReady.json.failing]).toEqual([503, ['agents-postgres']])
    await sleep(3000)
    const downUntil = performance.now()

    await db.start()
    const readyIn = await until(async () => (await ready()).status === 200, 30_000, '/ready to pass again')
    const readyAt = performance.now()
    await until(() => logLines(s.logs, /notifications resumed/).length > 0, 10_000, 'notifications to resume')
    await insert('fresh')
    const fresh = await call(`${s.url}/fresh/chat/completions`, { agent: false, timeoutMs: 5_000, body: ask('new after recovery') })
    expect([fresh.status, contentOf(fresh)]).toEqual([200, 'new after recovery'])
    await until(() => results.filter((r) => r.res.startedAt > readyAt).length > 300, 20_000, 'load after recovery')
    stop.stopped = true
    const load = await loading
    agent.destroy()

    const tally = new Tally()
    for (const { i, res, unknown } of results) {
      const phase = res.endedAt < downAt ? 'up' : res.startedAt > downAt + 500 && res.endedAt < downUntil ? 'down' : res.startedAt > readyAt ? 'back' : 'transition'
      if (!unknown) {
        if (res.status === 200 && contentOf(res) === `pg ${i}`) tally.add(`cached:${phase}:200`)
        else tally.fail(i, `cached:${phase}`, describeCall(res))
        continue
      }
      const notFound = isError(res, 404, 'RBT_ERR_AGENT_NOT_FOUND')
      const unavailable = isError(res, 503, 'RBT_ERR_AGENT_UNAVAILABLE') && res.headers['retry-after'] === '1'
      if ((phase === 'up' || phase === 'back') && notFound) tally.add(`unknown:${phase}:404`)
      else if (phase === 'down' && unavailable) tally.add('unknown:down:503', res.endedAt - res.startedAt)
      else if (phase === 'transition' && (notFound || unavailable)) tally.add(`unknown:transition:${res.status}`)
      else tally.fail(i, `unknown:${phase}`, describeCall(res))
    }
    report('postgres outage', tally, { readyAgainInMs: readyIn, outageMs: Math.round(readyAt - downAt) })
    expect(load.rejected).toEqual([])
    expect(tally.unexpected).toEqual([])
    expect(tally.counts['cached:down:200']).toBeGreaterThan(100)
    expect(tally.counts['unknown:down:503']).toBeGreaterThan(10)
    expect(tally.counts['unknown:back:404']).toBeGreaterThan(10)
  })
})

describe('SIGTERM under full load (robutler start)', () => {
  /** A `robutler start` process serving `echo` on local/echo, streaming one word per `chunkDelayMs`. */
  async function startEcho(chunkDelayMs: number) {
    const app = await linkedApp(['local'])
    const file = join(app.dir, 'robutler.config.json')
    await writeFile(
      file,
      JSON.stringify({
        server: { urlPrefix: '/api/v1', drainTimeout: 30 },
        plugins: { '@robutler/plugin-local': { chunkDelayMs } },
        agents: [{ name: 'echo', model: 'local/echo' }],
      }),
    )
    const server = await startCli(['--config', file, '--port', '0'], { env: cleanEnv() })
    return { app, server, url: `${server.address}/api/v1/echo/chat/completions` }
  }
  const started: Array<Awaited<ReturnType<typeof startEcho>>> = []
  afterAll(async () => {
    for (const { server, app } of started) {
      killIfAlive(server.child)
      await app.cleanup()
    }
  })
  const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ')

  it('every accepted request completes; new ones get 503 RBT_ERR_DRAINING or a refused connection; exit code 0', async () => {
    const STREAMS = 50
    const text = words(80) // at 25 ms a chunk: each stream lasts about 2 s
    const echo = await startEcho(25)
    started.push(echo)
    const { server, url } = echo
    const streamAgent = keepAliveAgent(STREAMS)
    const newAgent = keepAliveAgent(8)
    let underWay = 0
    const streams = Array.from({ length: STREAMS }, () =>
      call(url, { agent: streamAgent, timeoutMs: 60_000, body: ask(text, true), onFirstChunk: () => void underWay++ }),
    )
    await until(() => underWay === STREAMS, 10_000, 'every stream to send its first chunk')

    // A steady stream of new requests: on keep-alive sockets, and on a fresh connection each.
    const fresh: Array<{ i: number; res: CallResult }> = []
    const pooled: Array<{ i: number; res: CallResult }> = []
    const stop = { stopped: false }
    const lane = (agent: typeof newAgent | false, into: typeof fresh) => async (i: number) => {
      const res = await call(url, { agent, timeoutMs: CALL_TIMEOUT_MS, body: ask(`new ${i}`) })
      into.push({ i, res })
      if (res.error === 'ECONNREFUSED') await sleep(20)
    }
    const lanes = Promise.all([
      runLoad({ total: 100_000, concurrency: 4, maxMs: 60_000, job: lane(false, fresh), stop }),
      runLoad({ total: 100_000, concurrency: 8, maxMs: 60_000, job: lane(newAgent, pooled), stop }),
    ])
    await sleep(300)
    const sigtermAt = performance.now()
    server.child.kill('SIGTERM')
    const exit = await Promise.race([server.exited, sleep(60_000, null, { ref: false })])
    const exitedAt = performance.now()
    await sleep(300) // keep knocking for a moment after the exit: all refused
    stop.stopped = true
    await lanes
    const streamed = await Promise.all(streams)
    streamAgent.destroy()
    newAgent.destroy()
    // The listener closes only once every accepted request has finished.
    const drainedAt = Math.max(...streamed.map((res) => res.endedAt))

    const tally = new Tally()
    streamed.forEach((res, i) => {
      const { content, errors } = streamText(res.sse?.events ?? [])
      if (res.status === 200 && res.error === null && res.sse?.done && errors.length === 0 && content === text) tally.add('stream:completed')
      else tally.fail(i, 'stream', describeCall(res))
    })
    const classify = (laneName: string) => ({ i, res }: { i: number; res: CallResult }) => {
      const at = `sinceSigterm=${Math.round(res.startedAt - sigtermAt)}ms drainedAt=+${Math.round(drainedAt - sigtermAt)}ms exitedAt=+${Math.round(exitedAt - sigtermAt)}ms`
      if (res.status === 200 && res.error === null && contentOf(res) === `new ${i}`) return tally.add(`${laneName}:200${res.startedAt > sigtermAt ? ':after-sigterm' : ''}`)
      if (res.status === 503) {
        return isError(res, 503, 'RBT_ERR_DRAINING') && Number(res.headers['retry-after']) >= 1 && res.endedAt > sigtermAt
          ? tally.add(`${laneName}:503-draining`)
          : tally.fail(i, `${laneName}:503`, `${describeCall(res)} ${at}`)
      }
      if (res.error === 'ECONNREFUSED' && res.startedAt > sigtermAt) return tally.add(`${laneName}:refused`)
      // Once the drain is over: a connection still in the accept queue as the listener closes is reset by the OS,
      // and a request sent on an idle keep-alive socket as the server closes it is never read. Either way no
      // answer started and nothing was accepted (status null).
      if (res.status === null && res.error !== null && CONNECTION_ERRORS.has(res.error) && res.endedAt >= drainedAt) {
        return tally.add(`${laneName}:${res.reusedSocket ? 'idle-socket-closed' : 'reset-as-listener-closed'}`)
      }
      tally.fail(i, laneName, `${describeCall(res)} ${at}`)
    }
    fresh.forEach(classify('fresh'))
    pooled.forEach(classify('keep-alive'))
    report('SIGTERM under load', tally, { drainMs: Math.round(drainedAt - sigtermAt), exitMs: Math.round(exitedAt - sigtermAt) })

    expect(exit, server.stderr()).toMatchObject({ code: 0, signal: null })
    // Fails now and then while the kernel lets Fastify answer requests that arrive during close() with its own
    // 503 body (not RBT_ERR_DRAINING): see the next tests and docs/reliability.md.
    expect(tally.unexpected).toEqual([])
    expect(tally.counts['stream:completed']).toBe(STREAMS)
    expect((tally.counts['fresh:503-draining'] ?? 0) + (tally.counts['keep-alive:503-draining'] ?? 0)).toBeGreaterThan(10)
    expect(tally.counts['fresh:refused']).toBeGreaterThan(0)
    // The drain waited for the streams (about 2 s of their 80 chunks were left).
    expect(drainedAt - sigtermAt).toBeGreaterThan(1000)
  })

  it('a 503 RBT_ERR_DRAINING answer closes its connection (Connection: close, as docs/errors.md says)', async () => {
    const echo = await startEcho(25)
    started.push(echo)
    let underWay = false
    const stream = call(echo.url, { agent: false, timeoutMs: 20_000, body: ask(words(60), true), onFirstChunk: () => void (underWay = true) })
    await until(() => underWay, 5_000, 'the stream to start')
    echo.server.child.kill('SIGTERM')
    const agent = keepAliveAgent(1)
    let refused: CallResult
    do refused = await call(echo.url, { agent, timeoutMs: 5_000, body: ask('too late') })
    while (refused.status === 200)
    agent.destroy()
    expect(isError(refused, 503, 'RBT_ERR_DRAINING')).toBe(true)
    expect(refused.headers['retry-after']).toMatch(/^\d+$/)
    // A client keeping the connection would go on sending its requests to an instance that refuses them all.
    expect(refused.headers.connection).toBe('close')
    expect((await stream).sse?.done).toBe(true)
    expect((await echo.server.exited).code).toBe(0)
  })

  it('a request that arrives on an open connection while the server closes gets 503 RBT_ERR_DRAINING, OpenAI-shaped', async () => {
    const echo = await startEcho(25)
    started.push(echo)
    const { port } = new URL(echo.server.address)
    let underWay = false
    const stream = call(echo.url, { agent: false, timeoutMs: 20_000, body: ask(words(40), true), onFirstChunk: () => void (underWay = true) })
    await until(() => underWay, 5_000, 'the stream to start')
    // A client mid-request: its connection is busy, so closing the listener does not close it.
    const socket = connect(Number(port), '127.0.0.1')
    await once(socket, 'connect')
    let raw = ''
    socket.setEncoding('utf8').on('data', (text: string) => (raw += text))
    socket.on('error', () => undefined)
    const closed = once(socket, 'close')
    socket.write('POST /api/v1/echo/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n')

    echo.server.child.kill('SIGTERM')
    expect((await stream).sse?.done).toBe(true)
    // The drain is over once the listener refuses connections: the server is closing.
    await until(async () => (await call(`${echo.server.address}/api/v1/live`, { agent: false, timeoutMs: 1_000 })).error === 'ECONNREFUSED', 5_000, 'the listener to close')
    const body = JSON.stringify(ask('late'))
    socket.write(`content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    await Promise.race([closed, sleep(5_000)])
    socket.destroy()
    const [head = '', payload = ''] = raw.split('\r\n\r\n')
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 503 Service Unavailable')
    // Fastify's own closing answer is {"error":"Service Unavailable","message":…,"statusCode":503}.
    expect(JSON.parse(payload)).toEqual({ error: { message: expect.any(String), type: 'server_error', code: 'RBT_ERR_DRAINING', param: null } })
    expect((await echo.server.exited).code).toBe(0)
  })
})
