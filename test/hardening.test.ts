// What an attacker found at the edges, each closed: listings that showed every agent to anyone, an agent cache that
// made-up names could flush (and a loader outage then showed clients `ECONNREFUSED host:port`), a `__proto__` key
// that gave a config agent a prototype, a log line with two `msg` keys.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, loadConfigFile, StartupError, type AgentConfig } from '@robutler/kernel'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getJson, linkedApp, loggedAbout, postJson, startServer, type TestServer } from './helpers/test-server.js'

const keys = { 'robutler-plugin-keys': { keys: { 'key-ann': { userId: 'ann', scope: 'all' }, 'key-bob': { userId: 'bob', scope: 'all', agents: ['echo'] } } } }
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })
const ask = { messages: [{ role: 'user', content: 'hi' }] }

describe('what each caller is shown', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startServer(['local', 'basics', 'keys'], {
      plugins: { '@robutler/plugin-local': {}, ...keys },
      agents: [
        { name: 'echo', model: 'local/echo' },
        { name: 'private', model: 'local/inspect', scopes: ['owner'], owner: 'ann', skills: { '@robutler/skill-basics': {} } },
      ],
    })
  })
  afterAll(() => t?.close())

  it("GET / and /info name only the agents the caller may use, and only those agents' providers and skills", async () => {
    expect((await getJson(`${t.url}/`)).json.agents).toEqual(['echo'])
    const anonymous = (await getJson(`${t.url}/info`)).json
    expect(anonymous).toMatchObject({ agents: ['echo'], agents_count: 1, providers: ['local'], skills: [] })
    expect((await getJson(`${t.url}/`, bearer('key-bob'))).json.agents).toEqual(['echo'])
    expect((await getJson(`${t.url}/`, bearer('key-ann'))).json.agents).toEqual(['echo', 'private'])
    expect((await getJson(`${t.url}/info`, bearer('key-ann'))).json).toMatchObject({ agents: ['echo', 'private'], agents_count: 2, skills: ['@robutler/skill-basics'] })
    expect((await getJson(`${t.url}/info`, bearer('key-nobody'))).status).toBe(401)
  })

  it("a restricted agent's health tells others only whether it is up; the agents' own callers see name and model", async () => {
    expect((await getJson(`${t.url}/private/health`)).json).toEqual({ status: 'healthy' })
    expect((await getJson(`${t.url}/private/health`, bearer('key-bob'))).json).toEqual({ status: 'healthy' })
    expect((await getJson(`${t.url}/private/health`, bearer('key-nobody'))).json).toEqual({ status: 'healthy' })
    expect((await getJson(`${t.url}/private/health`, bearer('key-ann'))).json).toEqual({ status: 'healthy', agent: 'private', model: 'local/inspect' })
    expect((await getJson(`${t.url}/echo/health`)).json).toEqual({ status: 'healthy', agent: 'echo', model: 'local/echo' })
  })

  it('a refused request is logged at debug with one msg key (its reason apart)', async () => {
    const res = await postJson(`${t.url}/echo/chat/completions`, { messages: 'no' })
    const raw = t.logs.flatMap((chunk) => chunk.split('\n')).find((line) => line.includes(`"reqId":"${res.headers.get('x-request-id')}"`) && line.includes('request refused'))!
    expect(raw.match(/"msg":/g)).toHaveLength(1)
    expect(JSON.parse(raw)).toMatchObject({ level: 'debug', code: 'RBT_ERR_INVALID_REQUEST', reason: expect.stringContaining('messages'), msg: 'request refused' })
  })
})

describe('the dynamic agent cache under a flood of made-up names', () => {
  let t: TestServer
  let failure: Error | null = null
  const loaded: string[] = []
  beforeAll(async () => {
    t = await startServer(['local'], {
      plugins: { '@robutler/plugin-local': {} },
      agents: [],
      dynamicAgents: async (name) => {
        loaded.push(name)
        if (failure) throw failure
        return name.startsWith('real-') ? { name, model: 'local/echo' } : null
      },
    })
  })
  afterAll(() => t?.close())

  it('10,500 random names on the public /{name}/health evict no real agent; during a loader outage it keeps serving, and clients never see the outage detail', async () => {
    expect((await postJson(`${t.url}/real-one/chat/completions`, ask)).status).toBe(200)
    for (let i = 0; i < 10_500; i++) {
      const res = await t.server.app.inject({ method: 'GET', url: `/random-${i}-${(i * 7919) % 10_007}/health` })
      expect(res.statusCode).toBe(404)
    }
    failure = new Error('connect ECONNREFUSED 127.0.0.1:5440')
    loaded.length = 0
    const cached = await postJson(`${t.url}/real-one/chat/completions`, ask)
    expect(cached.status).toBe(200)
    expect(loaded).toEqual([]) // still cached: the flood did not evict it
    const unknown = await postJson(`${t.url}/real-two/chat/completions`, ask)
    expect(unknown.status).toBe(503)
    expect(unknown.headers.get('retry-after')).toBe('1')
    expect(unknown.json.error).toEqual({
      message: `Agent 'real-two' is unavailable right now; retry shortly (request ${unknown.headers.get('x-request-id')})`,
      type: 'server_error',
      code: 'RBT_ERR_AGENT_UNAVAILABLE',
      param: null,
    })
    expect(unknown.text).not.toContain('ECONNREFUSED')
    expect(unknown.text).not.toContain('5440')
    expect(loggedAbout(t.logs, unknown.headers.get('x-request-id'))).toContain('connect ECONNREFUSED 127.0.0.1:5440')
    failure = null
  }, 60_000)
})

describe('prototype keys', () => {
  it('a config file with a __proto__ key is refused, naming where', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'robutler-proto-'))
    try {
      const file = join(dir, 'robutler.config.json')
      await writeFile(file, '{ "agents": [ { "name": "a", "model": "local/echo", "__proto__": { "scopes": ["admin"] } } ] }')
      // Refused with every other config problem, in the one startup report.
      const error = (await loadConfigFile(file, {}).then(() => null, (e: unknown) => e)) as StartupError
      expect(error).toBeInstanceOf(StartupError)
      expect(error.problems).toEqual([{ code: 'RBT_ERR_CONFIG_INVALID', message: expect.stringContaining('/agents/0/__proto__: a prototype key') }])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('an agent given a prototype (an object literal with __proto__) does not start, rather than become admin-only', async () => {
    const app = await linkedApp(['local'])
    try {
      const agent = { name: 'sneaky', model: 'local/echo', __proto__: { scopes: ['admin'] } } as unknown as AgentConfig
      const error = await createServer({ appDir: app.dir, logLevel: 'silent', env: {}, plugins: { '@robutler/plugin-local': {} }, agents: [agent] }).then(
        () => null,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(StartupError)
      expect((error as StartupError).message).toContain("Agent 'sneaky': / (an object with a prototype of its own) is a prototype key")
    } finally {
      await app.cleanup()
    }
  })

  it('a loader that answers an agent with a __proto__ key gets that agent refused', async () => {
    const t = await startServer(['local'], {
      plugins: { '@robutler/plugin-local': {} },
      dynamicAgents: (name) => JSON.parse(`{ "name": "${name}", "model": "local/echo", "__proto__": { "scopes": ["admin"] } }`),
    })
    try {
      const res = await postJson(`${t.url}/loaded/chat/completions`, ask)
      expect([res.status, res.json.error.code]).toEqual([500, 'RBT_ERR_AGENT_INVALID'])
      expect(loggedAbout(t.logs, res.headers.get('x-request-id'))).toContain('/__proto__ is a prototype key')
    } finally {
      await t.close()
    }
  })
})
