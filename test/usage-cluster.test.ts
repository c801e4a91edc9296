// plugin-usage exact across processes and instances: two `robutler start --workers 2` instances on one private
// Redis and one PostgreSQL table, 2,000 requests from 20 keys in flight at once: the tokens per key in Redis, in
// PostgreSQL and in `robutler usage` equal what the fake upstream itself answered; a key with a budget of N calls'
// worth gets exactly N; Redis restarted empty mid-run: the totals are still exact once it is back.
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chatCompletion, startFakeOpenAI, USAGE } from './fixtures/fake-openai.js'
import { cleanEnv, runCli, startServer as startCli, type RunningServer } from './helpers/cli-process.js'
import { postgresAvailable, query, uniqueTable, DATABASE_URL } from './helpers/postgres.js'
import { startRestartableRedis, type RestartableRedis } from './helpers/restartable-redis.js'
import { linkedApp } from './helpers/test-server.js'

type Fake = Awaited<ReturnType<typeof startFakeOpenAI>>

const KEY_COUNT = 20
const PER_CALL = USAGE.total_tokens
const CAPPED_FITS = 37
const keyIds = Array.from({ length: KEY_COUNT }, (_, i) => `key-${String(i).padStart(2, '0')}`)
const secretOf = (keyId: string) => `sk-${keyId}`

function ask(agent: Agent, address: string, keyId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: keyId }] })
    const req = request(
      `${address}/plain/chat/completions`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${secretOf(keyId)}` } },
      (res) => {
        res.resume().on('end', () => resolve(res.statusCode!))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function until(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('plugin-usage: 2 instances × --workers 2, one Redis, one PostgreSQL', async () => {
  const available = await postgresAvailable()
  const table = uniqueTable('usage_cluster')
  const prefix = `rbt-test-usage-${process.pid}-${Date.now().toString(36)}:`
  let fake: Fake
  let redis: RestartableRedis
  let client: Redis
  let app: Awaited<ReturnType<typeof linkedApp>>
  let config: string
  const instances: RunningServer[] = []
  const agents = [new Agent({ keepAlive: true, maxSockets: 1000 }), new Agent({ keepAlive: true, maxSockets: 1000 })]
  /** What the fake upstream answered, per key (the key id is the request's message). */
  const upstream = () => {
    const counts = new Map<string, number>()
    for (const r of fake.requests) {
      const messages = (r.body as { messages?: Array<{ content: string }> }).messages ?? []
      const keyId = messages[messages.length - 1]?.content ?? ''
      counts.set(keyId, (counts.get(keyId) ?? 0) + 1)
    }
    return counts
  }
  const inRedis = async (budget: string, keyId: string) => Number((await client.hget(`${prefix}b:${budget}:key:${keyId}:0`, 'st')) ?? NaN)
  const inPostgres = async () => {
    const rows = await query<{ key_id: string; tokens: string }>(`SELECT key_id, sum(prompt_tokens + completion_tokens) AS tokens FROM "${table}" GROUP BY key_id`)
    return new Map(rows.rows.map((r) => [r.key_id, Number(r.tokens)]))
  }

  beforeAll(async () => {
    if (!available) return
    fake = await startFakeOpenAI()
    fake.always({ json: chatCompletion({ content: 'ok' }), delayMs: 5 })
    redis = await startRestartableRedis()
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
    client.on('error', () => undefined)
    app = await linkedApp(['openai', 'keys', 'usage'])
    const keys = Object.fromEntries([...keyIds, 'key-capped'].map((keyId, i) => [secretOf(keyId), { userId: `user-${i}`, scope: 'all', keyId }]))
    config = join(app.dir, 'robutler.config.json')
    await writeFile(
      config,
      JSON.stringify({
        server: { workerThreads: 1, maxConnectionsPerIp: 0 },
        plugins: {
          '@robutler/plugin-openai': { apiKey: 'sk-test', baseURL: `${fake.url}/v1` },
          'robutler-plugin-keys': { keys },
          '@robutler/plugin-usage': {
            database: DATABASE_URL,
            table,
            redis: redis.url,
            redisPrefix: prefix,
            budgets: [
              { name: 'per-key', match: { key: '*' }, period: 'total', tokens: 1e12 },
              { name: 'capped', match: { key: 'key-capped' }, period: 'total', tokens: PER_CALL * CAPPED_FITS, reserve: { tokens: PER_CALL } },
            ],
          },
        },
        agents: [{ name: 'plain', model: 'openai/gpt-a' }],
      }),
    )
    for (let i = 0; i < 2; i++) {
      const server = await startCli(['--config', config, '--port', '0', '--workers', '2'], { env: cleanEnv(), timeoutMs: 30_000 })
      instances.push(server)
      await until(() => server.logLines().filter((l) => /listening on/.test(l.msg ?? '')).length >= 2, 20_000, 'both workers to listen')
    }
  }, 90_000)

  afterAll(async () => {
    for (const agent of agents) agent.destroy()
    for (const server of instances) {
      if (server.child.exitCode === null) server.child.kill('SIGTERM')
      await Promise.race([server.exited, new Promise((r) => setTimeout(r, 10_000))])
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL')
    }
    client?.disconnect()
    await redis?.stop()
    await fake?.close()
    await app?.cleanup()
    if (available) await query(`DROP TABLE IF EXISTS "${table}"`)
  })

  /** `count` requests per key, all sent at once, alternating instances; resolves to the statuses. */
  function burst(keys: string[], count: number, onSettled?: (done: number) => void): Promise<number[]> {
    let done = 0
    const all: Array<Promise<number>> = []
    for (let n = 0; n < count; n++) {
      for (const keyId of keys) {
        const i = all.length % 2
        all.push(
          ask(agents[i]!, instances[i]!.address, keyId).then((status) => {
            onSettled?.(++done)
            return status
          }),
        )
      }
    }
    return Promise.all(all)
  }

  it.skipIf(!available)('2,000 requests from 20 keys: Redis, PostgreSQL and robutler usage each equal the upstream count; the capped key gets exactly the calls that fit', async () => {
    const [statuses, capped] = await Promise.all([burst(keyIds, 100), burst(['key-capped'], 120)])
    expect(statuses.filter((s) => s === 200)).toHaveLength(2000)
    expect(capped.filter((s) => s === 200)).toHaveLength(CAPPED_FITS)
    expect(capped.filter((s) => s === 429)).toHaveLength(120 - CAPPED_FITS)
    const seen = upstream()
    // No budget failed open: Redis answered every check.
    expect(instances.flatMap((server) => server.logLines().filter((line) => /unreachable/.test(line.msg ?? ''))).map((line) => line.error)).toEqual([])
    expect(seen.get('key-capped')).toBe(CAPPED_FITS)
    expect(await inRedis('capped', 'key-capped')).toBe(CAPPED_FITS * PER_CALL)
    // Records reach PostgreSQL within a flush period (1 s) of their call.
    await until(async () => [...(await inPostgres()).values()].reduce((a, b) => a + b, 0) === fake.requests.length * PER_CALL, 10_000, 'every record in PostgreSQL')
    const pg = await inPostgres()
    const cli = await runCli(['usage', '--by', 'key', '--json', '--config', config], { cwd: app.dir, env: cleanEnv() })
    expect(cli.stderr).toBe('')
    const report = new Map((JSON.parse(cli.stdout).rows as Array<{ group: string; totalTokens: number }>).map((r) => [r.group, r.totalTokens]))
    for (const keyId of keyIds) {
      const expected = seen.get(keyId)! * PER_CALL
      expect(expected).toBe(100 * PER_CALL)
      expect([keyId, await inRedis('per-key', keyId), pg.get(keyId), report.get(keyId)]).toEqual([keyId, expected, expected, expected])
    }
  }, 120_000)

  it.skipIf(!available)('Redis restarted empty mid-run: once it is back, the totals per key are exact again (rebuilt from PostgreSQL, nothing counted twice)', async () => {
    let restarted: Promise<void> | null = null
    const statuses = await burst(keyIds, 50, (done) => {
      if (done === 300 && restarted === null) {
        restarted = (async () => {
          await redis.stop()
          await new Promise((r) => setTimeout(r, 300))
          await redis.start()
        })()
      }
    })
    await restarted
    expect(statuses.filter((s) => s === 200)).toHaveLength(1000)
    // The outage was seen (budgets failed open while it lasted), and counters were then found missing and rebuilt.
    expect(instances.some((server) => server.logLines().some((line) => /unreachable/.test(line.msg ?? '')))).toBe(true)
    // One more request per key touches each counter: a missing one is rebuilt then.
    const touched = await burst(keyIds, 1)
    expect(touched.every((s) => s === 200)).toBe(true)
    const seen = upstream()
    await until(
      async () => {
        for (const keyId of keyIds) if ((await inRedis('per-key', keyId)) !== seen.get(keyId)! * PER_CALL) return false
        return true
      },
      20_000,
      'every Redis counter to equal the upstream count',
    )
    await until(async () => [...(await inPostgres()).values()].reduce((a, b) => a + b, 0) === fake.requests.length * PER_CALL, 10_000, 'every record in PostgreSQL')
    const pg = await inPostgres()
    for (const keyId of keyIds) {
      const expected = seen.get(keyId)! * PER_CALL
      expect(expected).toBe(151 * PER_CALL)
      expect([keyId, await inRedis('per-key', keyId), pg.get(keyId)]).toEqual([keyId, expected, expected])
    }
  }, 120_000)
})
