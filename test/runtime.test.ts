// The agent loop through HTTP: internal and external tools, argument validation, scopes, hooks, auth.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { postJson, startServer, type TestServer } from './helpers/test-server.js'
// The same module instance the kernel loaded (the registry imports the package's real path).
import { record } from './fixtures/skills/probe/index.js'

const probe = { 'robutler-skill-probe': {} }
const keys = {
  'robutler-plugin-keys': {
    keys: {
      'key-user': { userId: 'u-user', scope: 'all' },
      'key-owner': { userId: 'u-owner', scope: 'all' },
      'key-admin': { userId: 'u-admin', scope: 'admin' },
      'key-limited': { userId: 'u-limited', scope: 'all', agents: ['inspect'] },
    },
  },
}

const ask = (content: string, extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'user', content }], ...extra })
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

describe('agent runtime', () => {
  let t: TestServer
  const chat = (agent: string) => `${t.url}/${agent}/chat/completions`

  beforeAll(async () => {
    t = await startServer(['local', 'probe', 'keys'], {
      plugins: { '@robutler/plugin-local': {}, ...keys },
      skills: probe,
      agents: [
        { name: 'echo', model: 'local/echo', owner: 'u-owner', skills: probe },
        { name: 'inspect', model: 'local/inspect', instructions: 'Agent instructions.', owner: 'u-owner', skills: { 'robutler-skill-probe': { greeting: 'hello', hooks: false } } },
        { name: 'short', model: 'local/echo', maxIterations: 1, skills: probe },
        { name: 'private', model: 'local/echo', scopes: ['owner'], owner: 'u-owner' },
      ],
    })
  })
  afterAll(() => t.close())
  beforeEach(() => {
    record.length = 0
  })

  it('runs an internal tool and gives its result to the model', async () => {
    const res = await postJson(chat('echo'), ask('/tool add {"a": 2, "b": 3}'))
    expect(res.status).toBe(200)
    expect(JSON.parse(res.json.choices[0].message.content)).toEqual({ sum: 5, requestId: res.headers.get('x-request-id') })
    expect(res.json.choices[0].finish_reason).toBe('stop')
    expect(record).toContain('add:2+3')
  })

  it('adds up usage over every model call of the loop', async () => {
    const single = await postJson(chat('echo'), ask('one two three'))
    const looped = await postJson(chat('echo'), ask('/tool add {"a": 1, "b": 1}'))
    // Two model calls: the tool call, then the answer from the tool result.
    expect(looped.json.usage.completion_tokens).toBeGreaterThan(1)
    expect(looped.json.usage.prompt_tokens).toBeGreaterThan(single.json.usage.prompt_tokens)
    expect(looped.json.usage.total_tokens).toBe(looped.json.usage.prompt_tokens + looped.json.usage.completion_tokens)
  })

  it('runs two internal calls of one turn and answers with both results', async () => {
    const res = await postJson(chat('echo'), ask('/tool add {"a": 1, "b": 2}\n/tool add {"a": 10, "b": 20}'))
    const lines = res.json.choices[0].message.content.split('\n').map((l: string) => JSON.parse(l).sum)
    expect(lines).toEqual([3, 30])
  })

  it('invalid tool arguments reach the model as an error text; the tool never runs', async () => {
    const res = await postJson(chat('echo'), ask('/tool add {"a": "two", "b": 3}'))
    expect(res.status).toBe(200)
    const text = JSON.parse(res.json.choices[0].message.content)
    expect(text.error.code).toBe('RBT_ERR_TOOL_ARGUMENTS_INVALID')
    expect(text.error.message).toContain('/a must be number')
    expect(record.some((r) => r.startsWith('add:'))).toBe(false)
    const broken = await postJson(chat('echo'), ask('/tool add {not json'))
    expect(JSON.parse(broken.json.choices[0].message.content).error.code).toBe('RBT_ERR_TOOL_ARGUMENTS_INVALID')
  })

  it('a tool that throws and a tool that does not exist become error texts, and the server goes on', async () => {
    const res = await postJson(chat('echo'), ask('/tool boom {}\n/tool nosuch {}'))
    expect(res.status).toBe(200)
    const [boom, missing] = res.json.choices[0].message.content.split('\n').map((l: string) => JSON.parse(l).error)
    expect(boom).toEqual({ code: 'RBT_ERR_TOOL_FAILED', message: "Tool 'boom' failed: boom went the tool" })
    expect(missing.code).toBe('RBT_ERR_TOOL_NOT_FOUND')
    expect((await postJson(chat('echo'), ask('still here'))).json.choices[0].message.content).toBe('still here')
  })

  it('maxIterations ends the loop with finish_reason "length" saying so', async () => {
    const res = await postJson(chat('short'), ask('/tool add {"a": 1, "b": 1}'))
    expect(res.json.choices[0].finish_reason).toBe('length')
    expect(res.json.choices[0].message.content).toContain('maxIterations')
  })

  describe('external (client) tools', () => {
    const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }

    it('a call of a client tool comes back with finish_reason tool_calls', async () => {
      const res = await postJson(chat('echo'), ask('/tool get_weather {"city": "Paris"}', { tools: [weather] }))
      expect(res.json.choices[0].finish_reason).toBe('tool_calls')
      expect(res.json.choices[0].message.tool_calls).toEqual([
        { id: expect.any(String), type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } },
      ])
    })

    // DESIGN.md: such a turn runs none of its calls; the model is asked again once the client answers (an internal
    // result the stateless client never sees would be thrown away, and its side effects repeated).
    it('a turn mixing internal and client calls runs none of them and returns only the client ones', async () => {
      const res = await postJson(chat('echo'), ask('/tool add {"a": 4, "b": 4}\n/tool get_weather {"city": "Oslo"}', { tools: [weather] }))
      expect(record.some((r) => r.startsWith('add:'))).toBe(false)
      expect(res.json.choices[0].message.tool_calls.map((c: any) => c.function.name)).toEqual(['get_weather'])
    })

    it('a client tool with the name of an internal one wins for that request', async () => {
      const clientAdd = { type: 'function', function: { name: 'add', parameters: { type: 'object' } } }
      const res = await postJson(chat('echo'), ask('/tool add {"a": 1, "b": 2}', { tools: [clientAdd] }))
      expect(res.json.choices[0].finish_reason).toBe('tool_calls')
      expect(record.some((r) => r.startsWith('add:'))).toBe(false)
      const seen = JSON.parse((await postJson(chat('inspect'), ask('x', { tools: [clientAdd] }))).json.choices[0].message.content)
      expect(seen.tools.filter((n: string) => n === 'add')).toHaveLength(1)
    })
  })

  describe('hooks', () => {
    it('run in order around the loop, and finalizeConnection runs with the status', async () => {
      await postJson(chat('echo'), ask('/tool add {"a": 1, "b": 1}'))
      expect(record).toEqual([
        'onConnection:10',
        'beforeLlmCall:10',
        'afterLlmCall:10',
        'beforeToolCall:add',
        'add:1+1',
        'afterToolCall:add:ok',
        'beforeLlmCall:10',
        'afterLlmCall:10',
        'onMessage:10',
        'finalizeConnection:200',
      ])
    })

    it('onChunk runs for each streamed chunk; finalizeConnection runs last', async () => {
      const res = await fetch(chat('echo'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask('a b c', { stream: true })) })
      await res.text()
      // role chunk + 3 words + finish chunk
      expect(record.filter((r) => r === 'onChunk')).toHaveLength(5)
      expect(record.at(-1)).toBe('finalizeConnection:200')
    })
  })

  describe('scopes and identity', () => {
    it('an anonymous caller is not offered owner tools or owner prompts', async () => {
      const seen = JSON.parse((await postJson(chat('inspect'), ask('x'))).json.choices[0].message.content)
      expect(seen.tools).toEqual(['add', 'slow', 'boom'])
      expect(seen.messages[0].content).toBe('Agent instructions.\n\nprobe prompt for everyone (hello)')
    })

    it('the owner is offered them, prompts ordered by priority', async () => {
      const seen = JSON.parse((await postJson(chat('inspect'), ask('x'), bearer('key-owner'))).json.choices[0].message.content)
      expect(seen.tools).toContain('owner_secret')
      expect(seen.messages[0].content).toBe('Agent instructions.\n\nprobe prompt for owners\n\nprobe prompt for everyone (hello)')
    })

    it('a model that calls an owner-only tool for an `all` caller gets a refusal; the tool never runs', async () => {
      for (const headers of [{}, bearer('key-user')]) {
        const res = await postJson(chat('echo'), ask('/tool owner_secret {}'), headers)
        const error = JSON.parse(res.json.choices[0].message.content).error
        expect(error.code).toBe('RBT_ERR_TOOL_FORBIDDEN')
      }
      expect(record).not.toContain('owner_secret:ran')
      const owner = await postJson(chat('echo'), ask('/tool owner_secret {}'), bearer('key-owner'))
      expect(owner.json.choices[0].message.content).toBe('the owner secret')
      const admin = await postJson(chat('echo'), ask('/tool owner_secret {}'), bearer('key-admin'))
      expect(admin.json.choices[0].message.content).toBe('the owner secret')
    })

    it('GET /{agent} lists the tools the caller may see', async () => {
      const anon = await (await fetch(`${t.url}/echo`)).json()
      expect(anon.tools.map((x: any) => x.name)).not.toContain('owner_secret')
      const owner = await (await fetch(`${t.url}/echo`, { headers: bearer('key-owner') })).json()
      expect(owner.tools.map((x: any) => x.name)).toContain('owner_secret')
    })

    it('a credential every authenticator calls "not mine", or one calls "invalid", is 401 on every agent', async () => {
      for (const key of ['unknown-key', 'invalid-key']) {
        for (const agent of ['echo', 'inspect', 'nobody']) {
          const res = await postJson(chat(agent), ask('x'), bearer(key))
          expect(res.status).toBe(401)
          expect(res.json.error.code).toBe('RBT_ERR_UNAUTHENTICATED')
        }
      }
      const xApiKey = await postJson(chat('echo'), ask('x'), { 'x-api-key': 'unknown-key' })
      expect(xApiKey.status).toBe(401)
      const malformed = await postJson(chat('echo'), ask('x'), { authorization: 'Basic dXNlcjpwYXNz' })
      expect(malformed.status).toBe(401)
    })

    it('X-API-Key works like a bearer token', async () => {
      const res = await postJson(chat('echo'), ask('/tool owner_secret {}'), { 'x-api-key': 'key-owner' })
      expect(res.json.choices[0].message.content).toBe('the owner secret')
    })

    it('an agent limited to owners: 401 anonymous, 403 for another user, 200 for its owner', async () => {
      expect((await postJson(chat('private'), ask('x'))).status).toBe(401)
      const other = await postJson(chat('private'), ask('x'), bearer('key-user'))
      expect(other.status).toBe(403)
      expect(other.json.error.code).toBe('RBT_ERR_FORBIDDEN')
      expect((await postJson(chat('private'), ask('x'), bearer('key-owner'))).status).toBe(200)
    })

    it("a key's agent allow-list is enforced", async () => {
      expect((await postJson(chat('inspect'), ask('x'), bearer('key-limited'))).status).toBe(200)
      expect((await postJson(chat('echo'), ask('x'), bearer('key-limited'))).status).toBe(403)
    })

    it('the agent listing hides agents the caller may not use', async () => {
      const anon = await (await fetch(`${t.url}/agents`)).json()
      expect(anon.data.map((a: any) => a.name)).not.toContain('private')
      const owner = await (await fetch(`${t.url}/agents`, { headers: bearer('key-owner') })).json()
      expect(owner.data.map((a: any) => a.name)).toContain('private')
    })
  })

  describe('skill HTTP routes', () => {
    it('serve under /{agent}/ with params and the caller context', async () => {
      const res = await fetch(`${t.url}/echo/probe/banana`)
      expect(await res.json()).toEqual({ word: 'banana', agent: 'echo', scope: 'all' })
    })

    it('are scope-checked: 401 anonymous, 403 out of scope, 200 owner', async () => {
      expect((await fetch(`${t.url}/echo/owner-only`, { method: 'POST' })).status).toBe(401)
      expect((await fetch(`${t.url}/echo/owner-only`, { method: 'POST', headers: bearer('key-user') })).status).toBe(403)
      expect((await fetch(`${t.url}/echo/owner-only`, { method: 'POST', headers: bearer('key-owner') })).status).toBe(200)
    })

    it('an undeclared path or method is 404', async () => {
      expect((await fetch(`${t.url}/echo/probe`)).status).toBe(404)
      expect((await fetch(`${t.url}/echo/probe/x`, { method: 'DELETE' })).status).toBe(404)
      expect((await fetch(`${t.url}/private/probe/x`, { headers: bearer('key-owner') })).status).toBe(404)
    })
  })
})

describe('access declared by a skill (as skill-auth does)', () => {
  let t: TestServer
  const chat = (agent: string) => `${t.url}/${agent}/chat/completions`
  beforeAll(async () => {
    t = await startServer(['local', 'probe', 'keys'], {
      plugins: { '@robutler/plugin-local': {}, ...keys },
      agents: [
        {
          name: 'guarded',
          model: 'local/echo',
          skills: { 'robutler-skill-probe': { hooks: false, access: { required: true, owner: 'u-user', admins: ['u-limited'] } } },
        },
      ],
    })
  })
  afterAll(() => t.close())

  it('required: chat, GET /{agent} and skill routes need an identity; /{agent}/health stays public', async () => {
    expect((await postJson(chat('guarded'), ask('x'))).status).toBe(401)
    expect((await fetch(`${t.url}/guarded`)).status).toBe(401)
    expect((await fetch(`${t.url}/guarded/probe/x`)).status).toBe(401)
    expect((await fetch(`${t.url}/guarded/health`)).status).toBe(200)
    expect((await postJson(chat('guarded'), ask('x'), bearer('key-admin'))).status).toBe(200)
  })

  it('the owner it names gets owner scope; its admins get admin scope', async () => {
    const owner = await postJson(chat('guarded'), ask('/tool owner_secret {}'), bearer('key-user'))
    expect(owner.json.choices[0].message.content).toBe('the owner secret')
    const stranger = await postJson(chat('guarded'), ask('/tool owner_secret {}'), bearer('key-owner'))
    expect(JSON.parse(stranger.json.choices[0].message.content).error.code).toBe('RBT_ERR_TOOL_FORBIDDEN')
  })
})

describe('security headers', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startServer(['local'], { plugins: { '@robutler/plugin-local': {} }, agents: [{ name: 'echo', model: 'local/echo' }] })
  })
  afterAll(() => t.close())

  it('every answer, errors and streams included, carries JSON-API security headers', async () => {
    for (const res of [
      await fetch(`${t.url}/health`),
      await fetch(`${t.url}/nobody/chat/completions`, { method: 'POST' }),
      await fetch(`${t.url}/echo/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...ask('a'), stream: true }) }),
    ]) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('cache-control')).toMatch(/no-store|no-cache/)
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'")
      await res.text()
    }
  })
})

describe('getContext() and AsyncLocalStorage', () => {
  it('is off when no enabled package asks for it (server.asyncContext false forces it off)', async () => {
    const t = await startServer(['local', 'probe'], {
      asyncContext: false,
      plugins: { '@robutler/plugin-local': {} },
      agents: [{ name: 'echo', model: 'local/echo', skills: { 'robutler-skill-probe': { hooks: false } } }],
    })
    try {
      const res = await postJson(`${t.url}/echo/chat/completions`, ask('/tool add {"a": 1, "b": 2}'))
      expect(JSON.parse(res.json.choices[0].message.content)).toEqual({ sum: 3, requestId: null })
    } finally {
      await t.close()
    }
  })
})
