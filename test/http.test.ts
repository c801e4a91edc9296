// The HTTP surface of DESIGN.md and what bad input gets: OpenAI-shaped errors, never a 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postJson, startServer, type TestServer } from './helpers/test-server.js'

const chat = (agent: string) => `/${agent}/chat/completions`
const hello = { model: 'whatever', messages: [{ role: 'user', content: 'hello there' }] }

function expectOpenAiError(json: any, code: string) {
  expect(json).toEqual({ error: { message: expect.any(String), type: expect.any(String), code, param: expect.toBeOneOf([null, expect.any(String)]) } })
  expect(json.error.message).not.toMatch(/\n\s+at /)
}

describe('HTTP surface', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startServer(['local', 'basics'], {
      title: 'Surface test',
      urlPrefix: '/api/v1',
      maxRequestSize: '2KB',
      corsOrigins: ['https://allowed.example'],
      plugins: { '@robutler/plugin-local': {} },
      agents: [
        { name: 'echo', model: 'local/echo', description: 'Echoes', skills: { '@robutler/skill-basics': {} } },
        { name: 'inspect', model: 'local/inspect', instructions: 'Be exact.' },
      ],
    })
  })
  afterAll(() => t.close())

  it('GET / lists title, version, agents and endpoints', async () => {
    const body = await (await fetch(`${t.url}/`)).json()
    expect(body).toMatchObject({ title: 'Surface test', version: '1.0.0', agents: ['echo', 'inspect'] })
    expect(body.endpoints.chat).toBe('/api/v1/{agent}/chat/completions')
  })

  it('GET /health, /live, /ready, /info, /agents', async () => {
    const health = await (await fetch(`${t.url}/health`)).json()
    expect(health).toEqual({ status: 'healthy', version: '1.0.0', uptime_seconds: expect.any(Number), agents_count: 2, dynamic_agents_enabled: false })
    expect((await fetch(`${t.url}/live`)).status).toBe(200)
    const ready = await fetch(`${t.url}/ready`)
    expect(ready.status).toBe(200)
    expect((await ready.json()).status).toBe('ready')
    const info = await (await fetch(`${t.url}/info`)).json()
    expect(info).toMatchObject({ title: 'Surface test', agents_count: 2, providers: ['local'], skills: ['@robutler/skill-basics'] })
    const agents = await (await fetch(`${t.url}/agents`)).json()
    expect(agents.data.map((a: any) => a.name)).toEqual(['echo', 'inspect'])
  })

  it('GET /{agent} describes the agent and its tools; GET /{agent}/health answers', async () => {
    const info = await (await fetch(`${t.url}/echo`)).json()
    expect(info).toMatchObject({ name: 'echo', description: 'Echoes', model: 'local/echo', skills: ['@robutler/skill-basics'] })
    expect(info.tools.map((x: any) => x.name).sort()).toEqual(['calculate', 'current_time'])
    expect(info.endpoints.chat).toBe('/api/v1/echo/chat/completions')
    expect(await (await fetch(`${t.url}/echo/health`)).json()).toEqual({ status: 'healthy', agent: 'echo', model: 'local/echo' })
  })

  it("makes every request id itself, unique per server; a client's own id is echoed and logged beside it", async () => {
    const ids = new Set<string>()
    for (const header of ['x-request-id', 'x-client-request-id', 'x-request-id']) {
      const res = await fetch(`${t.url}/health`, { headers: { [header]: 'trace-123' } })
      ids.add(res.headers.get('x-request-id')!)
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{18}[0-9a-z]+$/)
      expect(res.headers.get('x-client-request-id')).toBe('trace-123')
    }
    expect(ids.size).toBe(3) // the same client id three times: three requests, three ids
    const lines = t.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request' && l.clientRequestId === 'trace-123')
    expect(lines.map((l) => l.reqId).sort()).toEqual([...ids].sort())
    const bad = await fetch(`${t.url}/health`, { headers: { 'x-request-id': 'bad id with spaces' } })
    expect(bad.headers.get('x-client-request-id')).toBeNull()
  })

  it('answers a chat completion with an OpenAI body', async () => {
    const { status, json } = await postJson(t.url + chat('echo'), hello)
    expect(status).toBe(200)
    expect(json).toMatchObject({
      object: 'chat.completion',
      model: 'local/echo',
      choices: [{ index: 0, message: { role: 'assistant', content: 'hello there' }, finish_reason: 'stop' }],
    })
    expect(json.id).toMatch(/^chatcmpl-/)
    expect(json.usage.total_tokens).toBe(json.usage.prompt_tokens + json.usage.completion_tokens)
  })

  it('sends instructions, sampling fields and tools to the model', async () => {
    const { json } = await postJson(t.url + chat('inspect'), { ...hello, temperature: 0.3, top_p: 0.9, max_tokens: 7, stop: ['x'], seed: 4, user: 'u' })
    const seen = JSON.parse(json.choices[0].message.content)
    expect(seen.messages[0]).toEqual({ role: 'system', content: 'Be exact.' })
    expect(seen.params).toEqual({ temperature: 0.3, top_p: 0.9, max_tokens: 7, stop: ['x'], seed: 4, user: 'u' })
  })

  describe('bad input', () => {
    it('malformed JSON → 400 RBT_ERR_INVALID_JSON', async () => {
      const res = await fetch(t.url + chat('echo'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages": [' })
      expect(res.status).toBe(400)
      expectOpenAiError(await res.json(), 'RBT_ERR_INVALID_JSON')
    })

    it('empty body with a JSON content type → 400', async () => {
      const res = await fetch(t.url + chat('echo'), { method: 'POST', headers: { 'content-type': 'application/json' } })
      expect(res.status).toBe(400)
      expectOpenAiError(await res.json(), 'RBT_ERR_INVALID_JSON')
    })

    it('missing or empty messages → 400 naming the parameter', async () => {
      const missing = await postJson(t.url + chat('echo'), { model: 'x' })
      expect(missing.status).toBe(400)
      expectOpenAiError(missing.json, 'RBT_ERR_INVALID_REQUEST')
      expect(missing.json.error.param).toBe('messages')
      const empty = await postJson(t.url + chat('echo'), { messages: [] })
      expect(empty.status).toBe(400)
      expect(empty.json.error.param).toBe('messages')
      const badRole = await postJson(t.url + chat('echo'), { messages: [{ role: 'wizard', content: 'x' }] })
      expect(badRole.status).toBe(400)
      expect(badRole.json.error.param).toBe('messages.0.role')
      const notObject = await postJson(t.url + chat('echo'), [1, 2])
      expect(notObject.status).toBe(400)
    })

    it('a non-JSON content type → 415', async () => {
      const res = await fetch(t.url + chat('echo'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' })
      expect(res.status).toBe(415)
      expectOpenAiError(await res.json(), 'RBT_ERR_UNSUPPORTED_MEDIA_TYPE')
    })

    it('unknown agent → 404 RBT_ERR_AGENT_NOT_FOUND', async () => {
      const { status, json } = await postJson(t.url + chat('nobody'), hello)
      expect(status).toBe(404)
      expectOpenAiError(json, 'RBT_ERR_AGENT_NOT_FOUND')
    })

    it.each([
      '..%2f..%2fetc%2fpasswd',
      '%2e%2e',
      'a%2Fb',
      '..',
      'x'.repeat(65),
      'x'.repeat(300),
      'UPPER',
      '%00',
      '%E0%A4%A',
      'health%2F..',
    ])('agent name %s → 404 or 400, never 500', async (name) => {
      for (const path of [chat(name), `/${name}`, `/${name}/health`]) {
        const res = await fetch(t.url + path, { method: path.endsWith('completions') ? 'POST' : 'GET', headers: { 'content-type': 'application/json' }, body: path.endsWith('completions') ? JSON.stringify(hello) : undefined })
        expect([400, 404]).toContain(res.status)
        const body = await res.json()
        expect(body.error.code).toMatch(/^RBT_ERR_/)
      }
    })

    it('a body over maxRequestSize → 413', async () => {
      const big = { messages: [{ role: 'user', content: 'x'.repeat(4096) }] }
      const { status, json } = await postJson(t.url + chat('echo'), big)
      expect(status).toBe(413)
      expectOpenAiError(json, 'RBT_ERR_BODY_TOO_LARGE')
      expect(json.error.message).toContain('2048')
    })

    it('unknown routes → 404 OpenAI-shaped', async () => {
      const res = await fetch(`${t.url}/echo/nothing/here`)
      expect(res.status).toBe(404)
      expectOpenAiError(await res.json(), 'RBT_ERR_ROUTE_NOT_FOUND')
      const outside = await fetch(t.url.replace('/api/v1', '/elsewhere'))
      expect(outside.status).toBe(404)
      expectOpenAiError(await outside.json(), 'RBT_ERR_ROUTE_NOT_FOUND')
    })

    it('n > 1 is refused, not silently ignored', async () => {
      const { status, json } = await postJson(t.url + chat('echo'), { ...hello, n: 2 })
      expect(status).toBe(400)
      expect(json.error.param).toBe('n')
    })

    it('the server keeps serving after all of that', async () => {
      const { status } = await postJson(t.url + chat('echo'), hello)
      expect(status).toBe(200)
    })
  })

  describe('CORS', () => {
    it('a preflight from an allowed origin passes', async () => {
      const res = await fetch(t.url + chat('echo'), {
        method: 'OPTIONS',
        headers: { origin: 'https://allowed.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
      })
      expect(res.status).toBe(204)
      expect(res.headers.get('access-control-allow-origin')).toBe('https://allowed.example')
      expect(res.headers.get('access-control-allow-methods')).toContain('POST')
    })

    it('a preflight from another origin gets no allow-origin header', async () => {
      const res = await fetch(t.url + chat('echo'), {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      })
      expect(res.headers.get('access-control-allow-origin')).toBeNull()
    })

    it('a streamed answer carries the CORS header too', async () => {
      const res = await fetch(t.url + chat('echo'), {
        method: 'POST',
        headers: { origin: 'https://allowed.example', 'content-type': 'application/json' },
        body: JSON.stringify({ ...hello, stream: true }),
      })
      expect(res.headers.get('access-control-allow-origin')).toBe('https://allowed.example')
      expect(res.headers.get('content-type')).toContain('text/event-stream')
      await res.text()
    })
  })
})

describe('request timeout', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startServer(['local'], {
      requestTimeout: 0.3,
      plugins: { '@robutler/plugin-local': { latencyMs: 2000 } },
      agents: [{ name: 'slow', model: 'local/echo' }],
    })
  })
  afterAll(() => t.close())

  it('a request past requestTimeout gets an OpenAI-shaped 408', async () => {
    const started = Date.now()
    const { status, json } = await postJson(t.url + chat('slow'), hello)
    expect(status).toBe(408)
    expectOpenAiError(json, 'RBT_ERR_REQUEST_TIMEOUT')
    expect(Date.now() - started).toBeLessThan(1500)
  })

  it('a stream that times out before its first byte is a normal 408 too', async () => {
    const { status, json } = await postJson(t.url + chat('slow'), { ...hello, stream: true })
    expect(status).toBe(408)
    expect(json.error.code).toBe('RBT_ERR_REQUEST_TIMEOUT')
  })
})
