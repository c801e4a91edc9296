// Hostile input, generated with fast-check: malformed auth headers, arbitrary JSON bodies, agent names and
// tool arguments from the model. Never a 500, never a crash, always an OpenAI-shaped error.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from './helpers/test-server.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 150)

function isOpenAiError(body: any): boolean {
  return (
    typeof body?.error?.message === 'string' &&
    typeof body.error.type === 'string' &&
    typeof body.error.code === 'string' &&
    body.error.code.startsWith('RBT_ERR_') &&
    (body.error.param === null || typeof body.error.param === 'string') &&
    !/\n\s+at /.test(body.error.message)
  )
}

async function send(url: string, init: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init)
  const text = await res.text()
  let body: any = null
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  return { status: res.status, body }
}

describe('hostile input', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startServer(['local', 'basics', 'keys'], {
      maxRequestSize: '64KB',
      plugins: { '@robutler/plugin-local': {}, 'robutler-plugin-keys': { keys: { 'good-key': { userId: 'u1', scope: 'all' } } } },
      agents: [{ name: 'echo', model: 'local/echo', skills: { '@robutler/skill-basics': {} } }],
    })
  })
  afterAll(() => t.close())

  const chat = () => `${t.url}/echo/chat/completions`
  const hello = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] })

  it('malformed Authorization and X-API-Key headers: 200 or 401, never a 500', async () => {
    // Header values fetch can send: printable ASCII without line breaks.
    const value = fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\t'.split('')), maxLength: 200 })
    const header = fc.oneof(
      value.map((v) => ({ authorization: v })),
      value.map((v) => ({ authorization: `Bearer ${v}` })),
      value.map((v) => ({ authorization: `bearer  ${v}` })),
      value.map((v) => ({ 'x-api-key': v })),
      fc.constant({ authorization: 'Bearer good-key' }),
      fc.constant({ authorization: 'Bearer' }),
      fc.constant({ authorization: 'Basic Z29vZC1rZXk6' }),
    )
    await fc.assert(
      fc.asyncProperty(header, async (headers) => {
        const { status, body } = await send(chat(), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: hello })
        expect([200, 401]).toContain(status)
        if (status !== 200) expect(isOpenAiError(body)).toBe(true)
      }),
      { numRuns: RUNS },
    )
  })

  it('arbitrary JSON bodies: never a 500, errors OpenAI-shaped', async () => {
    const message = fc.record(
      { role: fc.oneof(fc.constantFrom('user', 'assistant', 'system', 'tool', 'developer'), fc.string()), content: fc.oneof(fc.string(), fc.constant(null), fc.array(fc.jsonValue(), { maxLength: 3 }), fc.integer()), tool_call_id: fc.string(), tool_calls: fc.jsonValue() },
      { requiredKeys: [] },
    )
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record({ messages: fc.array(message, { maxLength: 4 }), stream: fc.oneof(fc.boolean(), fc.jsonValue()), tools: fc.jsonValue(), temperature: fc.jsonValue(), n: fc.jsonValue() }, { requiredKeys: ['messages'] }),
    )
    await fc.assert(
      fc.asyncProperty(body, async (json) => {
        const { status, body: answer } = await send(chat(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) })
        expect(status).not.toBe(500)
        expect(status).toBeLessThan(500)
        if (status >= 400) expect(isOpenAiError(answer)).toBe(true)
      }),
      { numRuns: RUNS },
    )
  })

  it('raw bytes that are not JSON: 400/413/415, never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream'), async (raw, type) => {
        const { status, body } = await send(chat(), { method: 'POST', headers: { 'content-type': type }, body: raw })
        expect(status).toBeLessThan(500)
        if (status >= 400) expect(isOpenAiError(body)).toBe(true)
      }),
      { numRuns: RUNS },
    )
  })

  it('agent names and paths: 404 or 400, never a 500', async () => {
    const segment = fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('..', '.', '%2e%2e', '%2f', '%00', 'health', 'echo', '%E0%A4%A', '\u0000'))
    await fc.assert(
      fc.asyncProperty(segment, fc.constantFrom('', '/health', '/chat/completions', '/x/y'), async (name, rest) => {
        const path = `${t.url}/${encodeURIComponent(name).replace(/%25/g, '%')}${rest}`
        let res
        try {
          res = await send(path, { method: rest === '/chat/completions' ? 'POST' : 'GET', headers: { 'content-type': 'application/json' }, body: rest === '/chat/completions' ? hello : undefined })
        } catch {
          return // a URL fetch itself refuses to send
        }
        expect(res.status).toBeLessThan(500)
        if (res.status >= 400) expect(isOpenAiError(res.body)).toBe(true)
      }),
      { numRuns: RUNS },
    )
  })

  it('tool arguments from the model: the model gets an error text, the request answers 200', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 100 }), fc.jsonValue().map((v) => JSON.stringify(v))), async (args) => {
        const content = `/tool calculate ${args.replace(/\n/g, ' ')}`
        const { status, body } = await send(chat(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content }] }) })
        expect(status).toBe(200)
        expect(typeof body.choices[0].message.content).toBe('string')
      }),
      { numRuns: RUNS },
    )
  })

  it('still serves after all of it', async () => {
    const { status } = await send(chat(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: hello })
    expect(status).toBe(200)
  })
})
