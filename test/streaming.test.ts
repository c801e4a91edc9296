// The official openai SDK (v6) against a real listening server; SSE framing; disconnects abort the work.
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { readSse, startServer, type TestServer } from './helpers/test-server.js'
import { record } from './fixtures/skills/probe/index.js'
import { seen } from './fixtures/plugins/spy/index.js'

const probe = { 'robutler-skill-probe': { hooks: false } }

async function until(condition: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('streaming and the openai SDK', () => {
  let t: TestServer
  const client = (agent: string) => new OpenAI({ baseURL: `${t.url}/${agent}`, apiKey: 'not-needed', maxRetries: 0 })

  beforeAll(async () => {
    t = await startServer(['local', 'basics', 'probe', 'spy'], {
      urlPrefix: '/api/v1',
      plugins: { '@robutler/plugin-local': {} },
      agents: [
        { name: 'echo', model: 'local/echo', skills: { '@robutler/skill-basics': {}, ...probe } },
        { name: 'spy', model: 'spy/tick', skills: probe },
        { name: 'dies', model: 'spy/die' },
        { name: 'fails', model: 'spy/fail' },
        { name: 'fallback', model: 'spy/fail', fallbackModels: ['spy/ok'] },
        { name: 'hooked-fail', model: 'spy/fail', skills: { 'robutler-skill-probe': {} } },
      ],
    })
  })
  afterAll(() => t.close())
  beforeEach(() => {
    record.length = 0
    seen.length = 0
  })

  it('non-stream completion through the SDK', async () => {
    const completion = await client('echo').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi from the sdk' }] })
    expect(completion.choices[0]!.message.content).toBe('hi from the sdk')
    expect(completion.choices[0]!.finish_reason).toBe('stop')
    expect(completion.usage!.total_tokens).toBeGreaterThan(0)
  })

  it('streamed completion through the SDK, with a usage chunk', async () => {
    const stream = await client('echo').chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'one two three four' }],
    })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')
    expect(text).toBe('one two three four')
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1)
    expect(new Set(chunks.map((c) => c.created)).size).toBe(1)
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant')
    const choiceChunks = chunks.filter((c) => c.choices.length > 0)
    expect(choiceChunks.at(-1)!.choices[0]!.finish_reason).toBe('stop')
    expect(choiceChunks.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null)).toBe(true)
    const last = chunks.at(-1)!
    expect(last.choices).toEqual([])
    expect(last.usage!.completion_tokens).toBe(4)
  })

  it('the SSE body is data: lines ending with [DONE]; no usage chunk unless asked', async () => {
    const res = await fetch(`${t.url}/echo/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'a b' }] }),
    })
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(res.headers.get('x-request-id')).toBeTruthy()
    const { events, done, raw } = await readSse(res)
    expect(done).toBe(true)
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true)
    expect(events.every((e) => e.choices.length === 1)).toBe(true)
  })

  it('a client-side tool call round trip through the SDK', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'lookup_order', parameters: { type: 'object', properties: { id: { type: 'string' } } } } }]
    const first = await client('echo').chat.completions.create({
      model: 'x',
      tools,
      messages: [{ role: 'user', content: '/tool lookup_order {"id": "A-17"}' }],
    })
    const call = first.choices[0]!.message.tool_calls![0]! as { id: string; function: { name: string; arguments: string } }
    expect(first.choices[0]!.finish_reason).toBe('tool_calls')
    expect(call.function).toEqual({ name: 'lookup_order', arguments: '{"id": "A-17"}' })
    const second = await client('echo').chat.completions.create({
      model: 'x',
      tools,
      messages: [
        { role: 'user', content: '/tool lookup_order {"id": "A-17"}' },
        first.choices[0]!.message,
        { role: 'tool', tool_call_id: call.id, content: 'order A-17 shipped' },
      ],
    })
    expect(second.choices[0]!.message.content).toBe('order A-17 shipped')
  })

  it('a client-side tool call streamed: stable index, id and name in the deltas, finish_reason tool_calls', async () => {
    const tools = [1, 2].map((n) => ({ type: 'function' as const, function: { name: `client_${n}`, parameters: { type: 'object' } } }))
    const stream = await client('echo').chat.completions.create({
      model: 'x',
      stream: true,
      tools,
      messages: [{ role: 'user', content: '/tool client_1 {"n": 1}\n/tool client_2 {"n": 2}' }],
    })
    const calls: Record<number, { id?: string; name?: string; args: string }> = {}
    let finish: string | null = null
    for await (const chunk of stream) {
      for (const d of chunk.choices[0]?.delta.tool_calls ?? []) {
        const slot = (calls[d.index] ??= { args: '' })
        slot.id ??= d.id
        slot.name ??= d.function?.name
        slot.args += d.function?.arguments ?? ''
      }
      finish = chunk.choices[0]?.finish_reason ?? finish
    }
    expect(finish).toBe('tool_calls')
    expect(calls[0]).toMatchObject({ name: 'client_1', args: '{"n": 1}' })
    expect(calls[1]).toMatchObject({ name: 'client_2', args: '{"n": 2}' })
    expect(calls[0]!.id).not.toBe(calls[1]!.id)
  })

  it('an internal tool call round trip with the scripted local model, streamed and not', async () => {
    const whole = await client('echo').chat.completions.create({ model: 'x', messages: [{ role: 'user', content: '/tool calculate {"expression": "6*7"}' }] })
    expect(whole.choices[0]!.message.content).toBe('42')
    const stream = await client('echo').chat.completions.create({ model: 'x', stream: true, messages: [{ role: 'user', content: '/tool calculate {"expression": "(1+2)^3"}' }] })
    let text = ''
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
    expect(text).toBe('27')
  })

  it('an error after the first byte is an error event, then [DONE]', async () => {
    const res = await fetch(`${t.url}/dies/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'x' }] }),
    })
    expect(res.status).toBe(200)
    const { events, done } = await readSse(res)
    expect(done).toBe(true)
    expect(events.at(-1)).toEqual({ error: { message: expect.stringContaining('connection reset'), type: 'api_error', code: 'RBT_ERR_PROVIDER_FAILED', param: null } })
    expect(events.some((e) => e.choices?.[0]?.delta?.content === 'first words ')).toBe(true)
  })

  it('a provider failure before the first byte is a normal 502, secrets removed', async () => {
    for (const stream of [false, true]) {
      const res = await fetch(`${t.url}/fails/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ stream, messages: [{ role: 'user', content: 'x' }] }),
      })
      expect(res.status).toBe(502)
      const body = await res.json()
      expect(body.error.code).toBe('RBT_ERR_PROVIDER_FAILED')
      expect(body.error.message).not.toContain('sk-abcdef')
    }
  })

  it('finalizeConnection runs when the request fails, with the status the client got', async () => {
    const res = await fetch(`${t.url}/hooked-fail/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }),
    })
    expect(res.status).toBe(502)
    await res.text()
    expect(record).toContain('onConnection:10')
    expect(record.at(-1)).toBe('finalizeConnection:502')
    expect(record).not.toContain('onMessage:10')
  })

  it('fallbackModels are tried in order, after the failing model got its retries (a 500 is retryable)', async () => {
    const completion = await client('fallback').chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'x' }] })
    expect(completion.choices[0]!.message.content).toBe('ok')
    expect(completion.model).toBe('spy/ok')
    expect(seen.map((s) => s.model)).toEqual(['fail', 'fail', 'fail', 'ok'])
  })

  it('a client that closes a stream mid-way aborts the provider call', async () => {
    const controller = new AbortController()
    const res = await fetch(`${t.url}/spy/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'go' }] }),
      signal: controller.signal,
    })
    const reader = res.body!.getReader()
    await reader.read()
    await reader.read()
    controller.abort()
    await until(() => seen[0]?.aborted === true)
    const chunksAtAbort = seen[0]!.chunks
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(seen[0]!.chunks).toBe(chunksAtAbort)
    expect(chunksAtAbort).toBeLessThan(100)
  })

  it.each([true, false])('a client that disconnects (stream: %s) aborts a running tool', async (stream) => {
    const controller = new AbortController()
    const pending = fetch(`${t.url}/echo/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ stream, messages: [{ role: 'user', content: '/tool slow {"ms": 10000}' }] }),
      signal: controller.signal,
    }).catch((error) => error)
    await until(() => record.includes('slow:start'))
    controller.abort()
    await pending
    await until(() => record.includes('slow:aborted'))
    expect(record).not.toContain('slow:done')
  })

  it('the server serves on after disconnects', async () => {
    const completion = await client('echo').chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'still fine' }] })
    expect(completion.choices[0]!.message.content).toBe('still fine')
  })
})

describe('close after a client-aborted stream', () => {
  it('finishes: a half-open or unused client connection cannot hold the server', async () => {
    const t = await startServer(['local'], {
      drainTimeout: 3,
      plugins: { '@robutler/plugin-local': { chunkDelayMs: 50 } },
      agents: [{ name: 'a', model: 'local/echo' }],
    })
    const controller = new AbortController()
    const res = await fetch(`${t.url}/a/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      signal: controller.signal,
      body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ') }] }),
    })
    const reader = res.body!.getReader()
    await reader.read()
    controller.abort()
    await new Promise((r) => setTimeout(r, 100))
    const started = Date.now()
    await t.close()
    expect(Date.now() - started).toBeLessThan(2500)
  })
})
