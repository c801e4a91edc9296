// @robutler/plugin-usage: each model call metered once with the fake OpenAI wire's usage (whole, streamed, a
// three-call tool loop, a fallback), priced from the config; the report routes and their scopes; budgets refused
// before the model is called with 429, the budget's name and Retry-After, reset by the next period; records in
// PostgreSQL and `robutler usage`; the Prometheus cost counter.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { chatCompletion, startFakeOpenAI, textChunks } from './fixtures/fake-openai.js'
import { runCli } from './helpers/cli-process.js'
import { postgresAvailable, query, uniqueTable, DATABASE_URL } from './helpers/postgres.js'
import { getJson, linkedApp, postJson, readSse, startServer, type TestServer } from './helpers/test-server.js'
import { writeConfig } from './helpers/kernel-app.js'

type Fake = Awaited<ReturnType<typeof startFakeOpenAI>>

const KEYS = {
  'sk-ann': { userId: 'ann', scope: 'all', keyId: 'key-ann' },
  'sk-bob': { userId: 'bob', scope: 'all', keyId: 'key-bob' },
  'sk-admin': { userId: 'root', scope: 'admin', keyId: 'key-admin' },
  'sk-capped': { userId: 'carl', scope: 'all', keyId: 'key-capped' },
  'sk-stream': { userId: 'sue', scope: 'all', keyId: 'key-stream' },
  'sk-own': { userId: 'olga', scope: 'all', keyId: 'key-own', budget: { period: 'day', tokens: 36 } },
}
const auth = (key: string) => ({ authorization: `Bearer ${key}` })
const hello = { messages: [{ role: 'user', content: 'hello' }] }
const PRICES = {
  'openai/gpt-a': { input: 2.5, output: 10, per: 1e6 },
  'openai/gpt-b': { input: 1, output: 2, per: 1000 },
}
const costOf = (price: { input: number; output: number; per: number }, prompt: number, completion: number) => (prompt * price.input + completion * price.output) / price.per

function serverOptions(fake: Fake, usage: Record<string, unknown>) {
  return {
    logLevel: 'warn' as const,
    providerRetries: 0,
    plugins: {
      '@robutler/plugin-openai': { apiKey: 'sk-test', baseURL: `${fake.url}/v1` },
      'robutler-plugin-keys': { keys: KEYS },
      '@robutler/plugin-usage': usage,
      '@robutler/plugin-prometheus': { defaultMetrics: false },
      '@robutler/plugin-messages': {},
    },
    agents: [
      { name: 'plain', model: 'openai/gpt-a' },
      { name: 'mystery', model: 'openai/gpt-unpriced' },
      { name: 'fallback', model: 'openai/gpt-a', fallbackModels: ['openai/gpt-b'] },
      { name: 'tools', model: 'openai/gpt-a', skills: { '@robutler/skill-basics': {} } },
    ],
  }
}

describe('plugin-usage in memory', () => {
  let fake: Fake
  let t: TestServer
  const url = (agent: string) => `${t.url}/${agent}/chat/completions`
  const report = async (query: string, key = 'sk-admin') => getJson(`${t.url}/usage${query}`, auth(key))

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    t = await startServer(['openai', 'keys', 'usage', 'basics', 'prometheus', 'messages'], {
      ...serverOptions(fake, {
        prices: PRICES,
        budgets: [
          { name: 'carl-tokens', match: { key: 'key-capped' }, period: '2s', tokens: 54 },
          { name: 'sue-stream', match: { key: 'key-stream' }, period: 'day', tokens: 20, reserve: { tokens: 10 } },
        ],
      }),
    })
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })
  beforeEach(() => fake.reset())

  it('meters a whole answer and a streamed one, each once, with the wire usage and its cost', async () => {
    fake.script({ json: chatCompletion({ content: 'hi', usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18, prompt_tokens_details: { cached_tokens: 3 }, completion_tokens_details: { reasoning_tokens: 2 } } }) })
    expect((await postJson(url('plain'), hello, auth('sk-ann'))).status).toBe(200)
    fake.script({ sse: textChunks('streamed words', { usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 } }) })
    const streamed = await fetch(url('plain'), { method: 'POST', headers: { 'content-type': 'application/json', ...auth('sk-ann') }, body: JSON.stringify({ ...hello, stream: true }) })
    expect((await readSse(streamed)).done).toBe(true)
    const me = await getJson(`${t.url}/usage/me?by=surface`, auth('sk-ann'))
    expect(me.status).toBe(200)
    expect(me.json.user).toBe('ann')
    expect(me.json.rows).toEqual([
      {
        group: 'chat',
        calls: 2,
        requests: 2,
        promptTokens: 31,
        completionTokens: 12,
        cachedTokens: 3,
        reasoningTokens: 2,
        totalTokens: 43,
        cost: expect.closeTo(costOf(PRICES['openai/gpt-a'], 31, 12), 12),
        unpricedCalls: 0,
      },
    ])
  })

  it('meters each call of a three-call tool loop, and only the answering model of a fallback', async () => {
    const call = (id: string) => ({ id, function: { name: 'calculate', arguments: '{"expression":"1+1"}' } })
    fake.script(
      { json: chatCompletion({ tool_calls: [call('c1')], usage: { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 } }) },
      { json: chatCompletion({ tool_calls: [call('c2')], usage: { prompt_tokens: 20, completion_tokens: 2, total_tokens: 22 } }) },
      { json: chatCompletion({ content: 'two', usage: { prompt_tokens: 30, completion_tokens: 3, total_tokens: 33 } }) },
    )
    const loop = await postJson(url('tools'), hello, auth('sk-bob'))
    expect(loop.status).toBe(200)
    expect(fake.requests).toHaveLength(3)
    fake.scriptModel('gpt-a', { error: 500 })
    fake.scriptModel('gpt-b', { json: chatCompletion({ content: 'from b', usage: { prompt_tokens: 4, completion_tokens: 6, total_tokens: 10 } }) })
    const fell = await postJson(url('fallback'), hello, auth('sk-bob'))
    expect(fell.json.model).toBe('openai/gpt-b')
    const mine = await getJson(`${t.url}/usage/me?by=agent`, auth('sk-bob'))
    const byAgent = Object.fromEntries(mine.json.rows.map((r: any) => [r.group, r]))
    expect(byAgent.tools).toMatchObject({ calls: 3, requests: 1, promptTokens: 60, completionTokens: 6 })
    expect(byAgent.tools.cost).toBeCloseTo(costOf(PRICES['openai/gpt-a'], 60, 6), 12)
    expect(byAgent.fallback).toMatchObject({ calls: 1, requests: 1, promptTokens: 4, completionTokens: 6 })
    expect(byAgent.fallback.cost).toBeCloseTo(costOf(PRICES['openai/gpt-b'], 4, 6), 12)
    const models = await getJson(`${t.url}/usage/me?by=model`, auth('sk-bob'))
    expect(models.json.rows.map((r: any) => r.group)).toEqual(['openai/gpt-a', 'openai/gpt-b'])
  })

  it('names the surface a call came through: the Messages API is messages', async () => {
    fake.script({ json: chatCompletion({ content: 'hi', usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } }) })
    const res = await postJson(`${t.url}/v1/messages`, { model: 'plain', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }, { 'x-api-key': 'sk-admin' })
    expect(res.status).toBe(200)
    const mine = await getJson(`${t.url}/usage/me?by=surface`, auth('sk-admin'))
    expect(mine.json.rows).toEqual([expect.objectContaining({ group: 'messages', calls: 1, promptTokens: 5, completionTokens: 2 })])
  })

  it('counts a model with no price in tokens, cost null, and warns once', async () => {
    fake.script({ json: chatCompletion({ content: 'a' }) }, { json: chatCompletion({ content: 'b' }) })
    await postJson(url('mystery'), hello)
    await postJson(url('mystery'), hello)
    const all = await report('?by=model')
    const row = all.json.rows.find((r: any) => r.group === 'openai/gpt-unpriced')
    expect(row).toMatchObject({ calls: 2, promptTokens: 22, completionTokens: 14, cost: null, unpricedCalls: 2 })
    expect(t.logs.filter((line) => line.includes('openai/gpt-unpriced') && line.includes('no price'))).toHaveLength(1)
  })

  it('answers /usage to admins only and /usage/me to identified callers; bad parameters are 400s', async () => {
    expect((await getJson(`${t.url}/usage`)).json.error.code).toBe('RBT_ERR_UNAUTHENTICATED')
    const forbidden = await report('', 'sk-ann')
    expect(forbidden.status).toBe(403)
    expect(forbidden.json.error.code).toBe('RBT_ERR_FORBIDDEN')
    expect((await getJson(`${t.url}/usage/me`)).status).toBe(401)
    const bad = await report('?by=planet')
    expect(bad.status).toBe(400)
    expect(bad.json.error).toMatchObject({ code: 'RBT_ERR_INVALID_REQUEST', param: 'by' })
    expect((await report('?since=yesterdayish')).json.error.param).toBe('since')
    const users = await report('?by=user')
    expect(users.status).toBe(200)
    expect(users.json.store).toBe('memory')
    expect(users.json.rows.map((r: any) => r.group)).toEqual(expect.arrayContaining(['ann', 'bob']))
    expect((await report(`?since=${new Date(Date.now() + 60_000).toISOString()}`)).json.rows).toEqual([])
  })

  it('refuses a request over its budget before the model is called: 429, the budget named, Retry-After; the next period resets it', async () => {
    // Each call costs 18 tokens; the budget holds 54: exactly three fit. Wait for a fresh 2 s window first.
    await new Promise((resolve) => setTimeout(resolve, 2000 - (Date.now() % 2000) + 20))
    fake.always({ json: chatCompletion({ content: 'ok' }) })
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) statuses.push((await postJson(url('plain'), hello, auth('sk-capped'))).status)
    const before = fake.requests.length
    const refused = await postJson(url('plain'), hello, auth('sk-capped'))
    expect(statuses).toEqual([200, 200, 200])
    expect(refused.status).toBe(429)
    expect(refused.json.error.code).toBe('RBT_ERR_BUDGET_EXCEEDED')
    expect(refused.json.error.message).toContain("'carl-tokens'")
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(2)
    expect(fake.requests.length).toBe(before)
    await new Promise((resolve) => setTimeout(resolve, Number(refused.headers.get('retry-after')) * 1000 + 50))
    expect((await postJson(url('plain'), hello, auth('sk-capped'))).status).toBe(200)
  })

  it('a stream that crosses its budget mid-way finishes; the next request is refused', async () => {
    fake.script({ sse: textChunks('all of these words arrive', { usage: { prompt_tokens: 15, completion_tokens: 10, total_tokens: 25 } }) })
    const res = await fetch(url('plain'), { method: 'POST', headers: { 'content-type': 'application/json', ...auth('sk-stream') }, body: JSON.stringify({ ...hello, stream: true }) })
    const stream = await readSse(res)
    expect(stream.done).toBe(true)
    expect(stream.events.map((e) => e.choices?.[0]?.delta?.content ?? '').join('')).toBe('all of these words arrive')
    const refused = await postJson(url('plain'), hello, auth('sk-stream'))
    expect(refused.status).toBe(429)
    expect(refused.json.error.message).toContain("'sue-stream'")
    const mine = await getJson(`${t.url}/usage/me`, auth('sk-stream'))
    expect(mine.json.total.totalTokens).toBe(25)
  })

  it("enforces a key's own budget (plugin-auth-keys' --budget) as budget key:<id>", async () => {
    fake.always({ json: chatCompletion({ content: 'ok' }) })
    expect((await postJson(url('plain'), hello, auth('sk-own'))).status).toBe(200)
    expect((await postJson(url('plain'), hello, auth('sk-own'))).status).toBe(200)
    const refused = await postJson(url('plain'), hello, auth('sk-own'))
    expect(refused.status).toBe(429)
    expect(refused.json.error.message).toContain("'key:key-own'")
  })

  it('counts priced cost in robutler_llm_cost_total{agent,model} and budget refusals', async () => {
    const metrics = await (await fetch(`${new URL(t.url).origin}/metrics`)).text()
    const cost = metrics.split('\n').find((line) => line.startsWith('robutler_llm_cost_total{agent="fallback",model="openai/gpt-b"}'))
    expect(Number(cost?.split(' ')[1])).toBeCloseTo(costOf(PRICES['openai/gpt-b'], 4, 6), 9)
    expect(metrics).not.toContain('model="openai/gpt-unpriced"} ')
    expect(metrics).toMatch(/robutler_rate_limit_rejections_total\{limit="budget"\} [1-9]/)
  })
})

describe('plugin-usage on PostgreSQL', async () => {
  const available = await postgresAvailable()
  let fake: Fake
  let t: TestServer
  const table = uniqueTable('usage_test')

  beforeAll(async () => {
    if (!available) return
    fake = await startFakeOpenAI()
    t = await startServer(['openai', 'keys', 'usage', 'basics', 'prometheus', 'messages'], serverOptions(fake, { database: DATABASE_URL, table, prices: PRICES, flushMs: 100 }))
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
    if (available) await query(`DROP TABLE IF EXISTS "${table}"`)
  })

  it.skipIf(!available)('writes each call to the table, and /usage and robutler usage add them up alike', async () => {
    fake.always({ json: chatCompletion({ content: 'ok' }) })
    for (const key of ['sk-ann', 'sk-ann', 'sk-bob']) expect((await postJson(`${t.url}/plain/chat/completions`, hello, auth(key))).status).toBe(200)
    const http = await getJson(`${t.url}/usage?by=key`, auth('sk-admin'))
    expect(http.json.store).toBe('postgres')
    expect(http.json.rows.map((r: any) => [r.group, r.calls, r.totalTokens])).toEqual([
      ['key-ann', 2, 36],
      ['key-bob', 1, 18],
    ])
    const rows = await query(`SELECT request_id, key_id, surface, model, prompt_tokens, completion_tokens, cost FROM "${table}" ORDER BY key_id`)
    expect(rows.rows).toHaveLength(3)
    expect(rows.rows[0]).toMatchObject({ key_id: 'key-ann', surface: 'chat', model: 'openai/gpt-a', prompt_tokens: '11', completion_tokens: '7' })
    expect(rows.rows[0].cost).toBeCloseTo(costOf(PRICES['openai/gpt-a'], 11, 7), 12)
    const app = await linkedApp(['usage'])
    try {
      const config = await writeConfig(app.dir, { plugins: { '@robutler/plugin-usage': { database: DATABASE_URL, table } } })
      const cli = await runCli(['usage', '--by', 'key', '--json', '--config', config], { cwd: app.dir })
      expect(cli.stderr).toBe('')
      expect(cli.code).toBe(0)
      expect(JSON.parse(cli.stdout).rows).toEqual(http.json.rows)
      const text = await runCli(['usage', '--by', 'key', '--config', config], { cwd: app.dir })
      expect(text.stdout).toMatch(/key-ann\s+2\s+2\s+22\s+14/)
      const bad = await runCli(['usage', '--by', 'planet', '--config', config], { cwd: app.dir })
      expect(bad.code).toBe(2)
    } finally {
      await app.cleanup()
    }
  })
})

describe("a key's own --budget from plugin-auth-keys", async () => {
  const available = await postgresAvailable()
  let fake: Fake
  let t: TestServer
  let app: { dir: string; cleanup: () => Promise<void> }
  const keyTable = uniqueTable('usage_keys')
  const usageTable = uniqueTable('usage_rec')

  beforeAll(async () => {
    if (!available) return
    fake = await startFakeOpenAI()
    app = await linkedApp(['authKeys', 'usage'])
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
    await app?.cleanup()
    if (available) await query(`DROP TABLE IF EXISTS "${keyTable}", "${usageTable}"`)
  })

  it.skipIf(!available)('robutler keys create --budget 36tokens/day: the key gets the two 18-token calls that fit, then 429 naming key:<id>', async () => {
    const plugins = {
      '@robutler/plugin-auth-keys': { database: DATABASE_URL, table: keyTable, cacheTtlSeconds: 0 },
      '@robutler/plugin-usage': { database: DATABASE_URL, table: usageTable },
    }
    const config = await writeConfig(app.dir, { plugins })
    const bad = await runCli(['keys', 'create', '--user', 'dora', '--budget', 'lots', '--config', config], { cwd: app.dir })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--budget must be')
    const made = await runCli(['keys', 'create', '--user', 'dora', '--budget', '36tokens/day', '--json', '--config', config], { cwd: app.dir })
    expect(made.stderr).toBe('')
    const key = JSON.parse(made.stdout) as { id: string; secret: string; budget: string }
    expect(key.budget).toBe('36tokens/day')
    t = await startServer(['openai', 'authKeys', 'usage'], {
      logLevel: 'warn',
      plugins: { '@robutler/plugin-openai': { apiKey: 'sk-test', baseURL: `${fake.url}/v1` }, ...plugins },
      agents: [{ name: 'plain', model: 'openai/gpt-a' }],
    })
    fake.always({ json: chatCompletion({ content: 'ok' }) })
    const url = `${t.url}/plain/chat/completions`
    expect((await postJson(url, hello, auth(key.secret))).status).toBe(200)
    expect((await postJson(url, hello, auth(key.secret))).status).toBe(200)
    const refused = await postJson(url, hello, auth(key.secret))
    expect(refused.status).toBe(429)
    expect(refused.json.error.code).toBe('RBT_ERR_BUDGET_EXCEEDED')
    expect(refused.json.error.message).toContain(`'key:${key.id}'`)
    expect(fake.requests).toHaveLength(2)
    const listed = await runCli(['keys', 'list', '--json', '--config', config], { cwd: app.dir })
    expect(JSON.parse(listed.stdout)[0].budget).toBe('36tokens/day')
  })
})
