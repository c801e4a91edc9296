// The surfaces API through a fixture plugin (test/fixtures/plugins/shout) written against the kernel's public entry
// only: its agent-level, model-level and server-level routes get identity, the agent and its access rules, the loop,
// request ids and the request log line; its route names are reserved while it is enabled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getJson, postJson, readSse, startServer, type TestServer } from './helpers/test-server.js'

const keys = { 'robutler-plugin-keys': { keys: { 'key-ann': { userId: 'ann', scope: 'all' }, 'key-bob': { userId: 'bob', scope: 'all', agents: ['echo'] } } } }
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

describe('a protocol surface added by a plugin', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startServer(['local', 'keys', 'shout'], {
      urlPrefix: '/api/v1',
      plugins: { '@robutler/plugin-local': {}, 'robutler-plugin-shout': {}, ...keys },
      agents: [
        { name: 'echo', model: 'local/echo', owner: 'ann' },
        { name: 'private', model: 'local/echo', scopes: ['owner'], owner: 'ann' },
      ],
      dynamicAgents: (name) => ({ name, model: 'local/echo' }),
    })
  })
  afterAll(() => t?.close())

  it('an agent-level route runs the loop for the agent of its path, with the caller identity and scope', async () => {
    const res = await postJson(`${t.url}/echo/shout`, { text: 'quiet words' }, { ...bearer('key-ann'), 'x-request-id': 'shout-1' })
    expect(res.status).toBe(200)
    const requestId = res.headers.get('x-request-id')
    expect(res.json).toMatchObject({ agent: 'echo', owner: 'ann', user: 'ann', scope: 'owner', requestId, answer: 'QUIET WORDS', finish: 'stop' })
    expect(res.json.usage.total_tokens).toBeGreaterThan(0)
    expect(res.headers.get('x-client-request-id')).toBe('shout-1')
    const line = t.logs.map((l) => JSON.parse(l)).find((l) => l.reqId === requestId && l.msg === 'request')
    expect(line).toMatchObject({ method: 'POST', status: 200, agent: 'echo', clientRequestId: 'shout-1' })
  })

  it('a model-level route finds its agent in the body, with the same access rules', async () => {
    const res = await postJson(`${t.url}/shout`, { model: 'echo', text: 'base url' })
    expect(res.json).toMatchObject({ agent: 'echo', user: null, scope: 'all', answer: 'BASE URL' })
    const dynamic = await postJson(`${t.url}/shout`, { model: 'loaded-on-demand', text: 'hi' })
    expect(dynamic.json).toMatchObject({ agent: 'loaded-on-demand', answer: 'HI' })
    expect((await postJson(`${t.url}/shout`, { model: 'private', text: 'x' })).status).toBe(401)
    expect((await postJson(`${t.url}/shout`, { model: 'private', text: 'x' }, bearer('key-bob'))).status).toBe(403)
    expect((await postJson(`${t.url}/shout`, { model: 'private', text: 'x' }, bearer('key-ann'))).json.answer).toBe('X')
    expect((await postJson(`${t.url}/shout`, { model: 'echo', text: 'x' }, bearer('invalid-key'))).status).toBe(401)
    const missing = await postJson(`${t.url}/shout`, { text: 'x' })
    expect([missing.status, missing.json.error.code, missing.json.error.param]).toEqual([400, 'RBT_ERR_INVALID_REQUEST', 'model'])
    const unknown = await postJson(`${t.url}/shout`, { model: 'Not An Agent', text: 'x' })
    expect([unknown.status, unknown.json.error.code, unknown.json.error.param]).toEqual([404, 'RBT_ERR_MODEL_NOT_FOUND', 'model'])
  })

  it('streams through the session: its own SSE events, headers copied, the request still logged', async () => {
    const response = await fetch(`${t.url}/shout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'shout-stream' },
      body: JSON.stringify({ model: 'echo', text: 'one two three', stream: true }),
    })
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    expect(response.headers.get('x-client-request-id')).toBe('shout-stream')
    const requestId = response.headers.get('x-request-id')
    const raw = (await readSse(response)).raw
    const events = raw.trim().split('\n\n').map((block) => ({ event: block.split('\n')[0]!.slice(7), data: JSON.parse(block.split('\n')[1]!.slice(6)) }))
    expect(events.filter((e) => e.event === 'delta').map((e) => e.data.text).join('')).toBe('ONE TWO THREE')
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { agent: 'echo', finish: 'stop' } })
    await new Promise((r) => setTimeout(r, 20))
    expect(t.logs.map((l) => JSON.parse(l)).find((l) => l.reqId === requestId && l.msg === 'request')).toMatchObject({ status: 200, agent: 'echo', clientRequestId: 'shout-stream' })
  })

  it('a server-level route gets the caller and the agents it may use', async () => {
    expect((await getJson(`${t.url}/shouts`)).json).toEqual({ user: null, agents: ['echo'] })
    expect((await getJson(`${t.url}/shouts`, bearer('key-ann'))).json).toEqual({ user: 'ann', agents: ['echo', 'private'] })
    expect((await getJson(`${t.url}/shouts`, bearer('invalid-key'))).status).toBe(401)
  })

  it("reserves its route names: a dynamic agent can't take one", async () => {
    expect((await postJson(`${t.url}/some-agent/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] })).status).toBe(200)
    const taken = await postJson(`${t.url}/shouts/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] })
    expect([taken.status, taken.json.error.code]).toEqual([404, 'RBT_ERR_AGENT_NOT_FOUND'])
  })

  it('refuses at load a configured agent named like its route, naming the plugin', async () => {
    await expect(
      startServer(['local', 'shout'], {
        plugins: { '@robutler/plugin-local': {}, 'robutler-plugin-shout': {} },
        agents: [{ name: 'shout', model: 'local/echo' }],
      }),
    ).rejects.toThrow(/Agent 'shout': 'shout' is a route of robutler-plugin-shout/)
  })
})
