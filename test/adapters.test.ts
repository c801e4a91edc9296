// One agent loop, two Chat Completions adapters: the same scripted conversations through the whole (JSON) answer and
// the streamed (SSE) one give the same message, finish reason and usage; a disconnect aborts the work in both.
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { chatChunk, chatCompletion, startFakeOpenAI, usageChunk, type FakeOpenAI } from './fixtures/fake-openai.js'
import { record } from './fixtures/skills/probe/index.js'
import { postJson, readSse, startServer, type TestServer } from './helpers/test-server.js'

const probe = { 'robutler-skill-probe': { hooks: false } }
const skills = { ...probe, '@robutler/skill-basics': {} }
const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }
const ask = (content: string, extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'user', content }], ...extra })

interface Outcome {
  content: string | null
  refusal: string | null
  toolCalls: Array<{ name: string; arguments: string }>
  finish: string
  usage: unknown
  model: string
}

/** The whole answer's message, finish reason and usage. */
async function whole(url: string, body: Record<string, unknown>): Promise<Outcome> {
  const res = await postJson(url, body)
  expect(res.status, res.text).toBe(200)
  const choice = res.json.choices[0]
  return {
    content: choice.message.content,
    refusal: choice.message.refusal,
    toolCalls: (choice.message.tool_calls ?? []).map((c: any) => ({ name: c.function.name, arguments: c.function.arguments })),
    finish: choice.finish_reason,
    usage: res.json.usage,
    model: res.json.model,
  }
}

/** The same, put together from the chunks of the streamed answer (with its usage chunk). */
async function streamed(url: string, body: Record<string, unknown>): Promise<Outcome> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
  })
  expect(response.status).toBe(200)
  const { events, done } = await readSse(response)
  expect(done).toBe(true)
  let content = ''
  let sawContent = false
  let refusal: string | null = null
  const calls: Array<{ name: string; arguments: string }> = []
  let finish = ''
  let usage: unknown = null
  for (const chunk of events) {
    expect(chunk.id).toBe(events[0].id)
    if (chunk.usage) usage = chunk.usage
    const choice = chunk.choices[0]
    if (!choice) continue
    if (typeof choice.delta.content === 'string' && !choice.delta.role) {
      content += choice.delta.content
      sawContent = true
    }
    if (choice.delta.refusal) refusal = (refusal ?? '') + choice.delta.refusal
    for (const part of choice.delta.tool_calls ?? []) {
      calls[part.index] ??= { name: '', arguments: '' }
      if (part.function?.name) calls[part.index]!.name = part.function.name
      if (part.function?.arguments) calls[part.index]!.arguments += part.function.arguments
    }
    if (choice.finish_reason) finish = choice.finish_reason
  }
  return { content: sawContent || calls.length === 0 ? content : null, refusal, toolCalls: calls, finish, usage, model: events[0].model }
}

describe('the JSON and SSE adapters of one loop', () => {
  let fake: FakeOpenAI
  let t: TestServer
  const chat = (agent: string) => `${t.url}/${agent}/chat/completions`

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    t = await startServer(['local', 'openai', 'probe', 'basics'], {
      providerRetries: 1,
      plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-openai': { apiKey: 'sk-test', baseURL: `${fake.url}/v1` } },
      skills,
      agents: [
        { name: 'echo', model: 'local/echo', skills },
        { name: 'short', model: 'local/echo', maxIterations: 1, skills: probe },
        { name: 'fallback', model: 'openai/gpt-down', fallbackModels: ['local/echo'] },
        { name: 'careful', model: 'openai/gpt-careful' },
      ],
    })
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })
  beforeEach(() => {
    record.length = 0
    fake.reset()
  })

  const conversations: Array<[string, string, Record<string, unknown>, Partial<Outcome>]> = [
    ['text', 'echo', ask('hello there world'), { content: 'hello there world', finish: 'stop' }],
    ['an internal tool', 'echo', ask('/tool calculate {"expression": "6*7"}'), { content: '42', finish: 'stop' }],
    ['a client tool', 'echo', ask('/tool get_weather {"city": "Oslo"}', { tools: [weather] }), { content: null, finish: 'tool_calls' }],
    ['maxIterations reached', 'short', ask('/tool add {"a": 1, "b": 1}'), { finish: 'length' }],
  ]

  it.each(conversations)('%s: the same message, finish reason and usage', async (_name, agent, body, expected) => {
    const a = await whole(chat(agent), body)
    const b = await streamed(chat(agent), body)
    expect(b).toEqual(a)
    expect(a).toMatchObject(expected)
    expect((a.usage as { total_tokens: number }).total_tokens).toBeGreaterThan(0)
  })

  it('the internal tool ran once per answer and its result is the answer', async () => {
    const a = await whole(chat('echo'), ask('/tool add {"a": 2, "b": 40}'))
    expect(JSON.parse(a.content!).sum).toBe(42)
    await streamed(chat('echo'), ask('/tool add {"a": 2, "b": 40}'))
    expect(record.filter((r) => r === 'add:2+40')).toHaveLength(2)
  })

  it('a provider failing then falling back: the same answer from the fallback model', async () => {
    fake.always({ error: 500 })
    const a = await whole(chat('fallback'), ask('rescued by the fallback'))
    const b = await streamed(chat('fallback'), ask('rescued by the fallback'))
    expect(b).toEqual(a)
    expect(a).toMatchObject({ content: 'rescued by the fallback', finish: 'stop', model: 'local/echo' })
    // Each adapter: the first try and one retry on the failing model, then the fallback.
    expect(fake.requests.map((r) => r.body.stream ?? false)).toEqual([false, false, true, true])
  })

  it('a refusal: the same in both (the streamed answer carries refusal deltas)', async () => {
    fake.script(
      { json: chatCompletion({ content: null, refusal: 'I cannot help with that.' }) },
      { sse: [chatChunk({ role: 'assistant', content: '' }), chatChunk({ refusal: 'I cannot ' }), chatChunk({ refusal: 'help with that.' }), chatChunk({}, { finish_reason: 'stop' }), usageChunk()] },
    )
    const a = await whole(chat('careful'), ask('something bad'))
    const b = await streamed(chat('careful'), ask('something bad'))
    expect(b).toEqual(a)
    expect(a).toMatchObject({ content: '', refusal: 'I cannot help with that.', finish: 'stop' })
  })

  it.each([false, true])('a client that disconnects aborts the running tool (stream: %s)', async (stream) => {
    const controller = new AbortController()
    const request = fetch(chat('echo'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ask('/tool slow {"ms": 5000}', { stream })),
      signal: controller.signal,
    }).then((r) => r.text())
    for (let i = 0; i < 100 && !record.includes('slow:start'); i++) await sleep(10)
    controller.abort()
    await expect(request).rejects.toThrow()
    for (let i = 0; i < 100 && !record.includes('slow:aborted'); i++) await sleep(10)
    expect(record).toEqual(['slow:start', 'slow:aborted'])
    expect((await whole(chat('echo'), ask('still serving'))).content).toBe('still serving')
  })
})
