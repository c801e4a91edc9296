// The kernel's one retry/fallback layer, with the real openai SDK over real HTTP against a scripted fake.
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { chatCompletion, startFakeOpenAI, textChunks } from './fixtures/fake-openai.js'
import { events } from './fixtures/plugins/events/index.js'
import { postJson, readSse, startServer, type TestServer } from './helpers/test-server.js'

type Fake = Awaited<ReturnType<typeof startFakeOpenAI>>
const SECRET_BODY = { error: { message: 'bad key sk-live-SECRETSECRETSECRET for org-x', type: 'server_error' } }
const hello = { messages: [{ role: 'user', content: 'hello' }] }

describe('retries, fallbacks, timeouts', () => {
  let fake: Fake
  let t: TestServer
  const url = (agent: string) => `${t.url}/${agent}/chat/completions`

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    t = await startServer(['openai', 'events'], {
      providerTimeout: 0.5,
      providerRetries: 2,
      plugins: { '@robutler/plugin-openai': { apiKey: 'sk-test-KEYKEYKEYKEY', baseURL: `${fake.url}/v1` }, 'robutler-plugin-events': {} },
      agents: [
        { name: 'single', model: 'openai/gpt-a' },
        { name: 'fallback', model: 'openai/gpt-a', fallbackModels: ['openai/gpt-b'] },
      ],
    })
  })
  afterAll(async () => {
    await t.close()
    await fake.close()
  })
  beforeEach(() => {
    fake.reset()
    events.length = 0
  })

  it('a 429 with Retry-After is retried after that long, then succeeds', async () => {
    fake.script({ error: 429, headers: { 'retry-after': '1' } }, { json: chatCompletion({ content: 'second time lucky' }) })
    const started = Date.now()
    const res = await postJson(url('single'), hello)
    expect(res.status).toBe(200)
    expect(res.json.choices[0].message.content).toBe('second time lucky')
    expect(fake.requests).toHaveLength(2)
    expect(Date.now() - started).toBeGreaterThanOrEqual(950)
  })

  it('a connection error is retried', async () => {
    fake.script({ reset: true }, { json: chatCompletion({ content: 'reconnected' }) })
    const res = await postJson(url('single'), hello)
    expect(res.json.choices[0].message.content).toBe('reconnected')
  })

  it('a persistent 500 falls back to the next model after the retries', async () => {
    fake.scriptModel('gpt-a', { error: 500 }, { error: 500 }, { error: 500 })
    fake.scriptModel('gpt-b', { json: chatCompletion({ content: 'from b' }) })
    const res = await postJson(url('fallback'), hello)
    expect(res.status).toBe(200)
    expect(res.json.choices[0].message.content).toBe('from b')
    expect(res.json.model).toBe('openai/gpt-b')
    expect(fake.requests.map((r) => r.body.model)).toEqual(['gpt-a', 'gpt-a', 'gpt-a', 'gpt-b'])
  })

  it('all failing → 502, OpenAI-shaped, with no upstream body in it', async () => {
    fake.always({ error: 500, body: SECRET_BODY })
    for (const stream of [false, true]) {
      const res = await postJson(url('fallback'), { ...hello, stream })
      expect(res.status).toBe(502)
      expect(res.json.error).toEqual({ message: expect.stringContaining('HTTP 500'), type: 'api_error', code: 'RBT_ERR_PROVIDER_FAILED', param: null })
      expect(res.text).not.toContain('SECRET')
      expect(res.text).not.toContain('sk-test')
    }
    expect(t.logs.join('')).not.toContain('SECRETSECRET')
  })

  it('a client error (400) is not retried', async () => {
    fake.script({ error: 400 })
    const res = await postJson(url('single'), hello)
    expect(res.status).toBe(502)
    expect(res.json.error.message).toContain('HTTP 400')
    expect(fake.requests).toHaveLength(1)
  })

  it('429 through every retry and fallback → 429 RBT_ERR_PROVIDER_RATE_LIMITED with Retry-After', async () => {
    fake.always({ error: 429, headers: { 'retry-after-ms': '10' } })
    const res = await postJson(url('single'), hello)
    expect(res.status).toBe(429)
    expect(res.json.error.code).toBe('RBT_ERR_PROVIDER_RATE_LIMITED')
    expect(res.headers.get('retry-after')).toBe('1')
    expect(fake.requests).toHaveLength(3)
  })

  it('a stalled upstream → 504, and the stalled connection is closed', async () => {
    fake.always({ stall: true })
    const res = await postJson(url('single'), hello)
    expect(res.status).toBe(504)
    expect(res.json.error.code).toBe('RBT_ERR_PROVIDER_TIMEOUT')
    await fake.waitFor(() => fake.closed.length >= 1)
  })

  it('a stream that stalls after its first chunk ends with an error event, not a hang', async () => {
    fake.script({ sse: textChunks('one two three'), delayMs: [0, 0, 5000] })
    const res = await fetch(url('single'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...hello, stream: true }) })
    const { events: sse, done } = await readSse(res)
    expect(done).toBe(true)
    expect(sse.at(-1).error.code).toBe('RBT_ERR_PROVIDER_TIMEOUT')
    expect(fake.requests).toHaveLength(1)
  })

  it('no retry once stream output has reached the client: a mid-stream drop is an error event', async () => {
    fake.script({ sse: textChunks('alpha beta gamma delta'), dropAfter: 3 }, { json: chatCompletion({ content: 'must not be used' }) })
    const res = await fetch(url('single'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...hello, stream: true }) })
    const { events: sse, done } = await readSse(res)
    expect(done).toBe(true)
    expect(sse.map((e) => e.choices?.[0]?.delta?.content ?? '').join('')).toBe('alpha beta ')
    expect(sse.at(-1).error.code).toBe('RBT_ERR_PROVIDER_FAILED')
    expect(fake.requests).toHaveLength(1)
  })

  it('a stream that fails before any output is retried', async () => {
    fake.script({ error: 503 }, { sse: textChunks('fresh start') })
    const res = await fetch(url('single'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...hello, stream: true }) })
    const { events: sse } = await readSse(res)
    expect(sse.map((e) => e.choices?.[0]?.delta?.content ?? '').join('')).toBe('fresh start')
    expect(fake.requests).toHaveLength(2)
  })

  it('llm events carry duration, time to first token and usage for every call, streamed ones included', async () => {
    fake.script({ error: 500 }, { json: chatCompletion({ content: 'x' }) }, { sse: textChunks('a b'), delayMs: 30 })
    await postJson(url('single'), hello)
    const client = new OpenAI({ baseURL: `${t.url}/single`, apiKey: 'unused', maxRetries: 0 })
    const stream = await client.chat.completions.create({ model: 'x', stream: true, messages: hello.messages as any })
    for await (const _ of stream) void _
    const ends = events.filter((e) => e.name === 'llm:end')
    expect(ends).toHaveLength(3)
    expect(ends[0]).toMatchObject({ provider: 'openai', model: 'gpt-a', stream: false, error: 'server', usage: null })
    expect(ends[1]).toMatchObject({ stream: false, error: null, usage: { total_tokens: 18 } })
    expect(ends[2]).toMatchObject({ stream: true, error: null, usage: { total_tokens: 18 } })
    expect(ends[2].ttftMs).toBeGreaterThan(0)
    expect(ends[2].durationMs).toBeGreaterThanOrEqual(ends[2].ttftMs)
    expect(events.filter((e) => e.name === 'llm:start')).toHaveLength(3)
  })
})
