// @robutler/skill-auth through a real server on 127.0.0.1, with plugin-auth-keys' config keys: an identity is
// required (or not), the agent's owner and the skill's owner/admins get their scopes, and tools, prompts and
// routes follow the scope — an owner-only tool the model calls for an `all` caller is refused and never runs.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createServer, type KernelApi, type AgentConfig } from '@robutler/kernel'
import skillAuth from '@robutler/skill-auth'
import { AUTH_KEYS, LOCAL, PROBE, SKILL_AUTH, bearer, chat, getJson, authApp, startAuthServer, type AuthApp, type AuthServer } from './helpers/auth-app.js'
import { readSse } from './helpers/test-server.js'
// The same module instance the kernel loaded (the registry imports the package's real path).
import { record } from './fixtures/skills/probe/index.js'

const key = (label: string) => `sk-${label}-${randomBytes(24).toString('base64url')}`
const PLAIN = key('plain')
const AGENT_OWNER = key('agent-owner')
const SKILL_OWNER = key('skill-owner')
const SKILL_ADMIN = key('skill-admin')
const ROOT_ADMIN = key('root')

const keysSection = {
  keys: [
    { key: PLAIN, userId: 'u-plain' },
    { key: AGENT_OWNER, userId: 'u-agent-owner' },
    { key: SKILL_OWNER, userId: 'u-skill-owner' },
    { key: SKILL_ADMIN, userId: 'u-skill-admin' },
    { key: ROOT_ADMIN, userId: 'u-root', scope: 'admin' },
  ],
}
const probe = { hooks: false }
const agents: AgentConfig[] = [
  { name: 'guarded', model: 'local/echo', owner: 'u-agent-owner', skills: { [SKILL_AUTH]: { admins: ['u-skill-admin'] }, [PROBE]: probe } },
  { name: 'owned', model: 'local/echo', owner: 'u-agent-owner', skills: { [SKILL_AUTH]: { owner: 'u-skill-owner' }, [PROBE]: probe } },
  { name: 'open', model: 'local/echo', owner: 'u-agent-owner', skills: { [SKILL_AUTH]: { required: false }, [PROBE]: probe } },
  { name: 'peek', model: 'local/inspect', owner: 'u-agent-owner', skills: { [SKILL_AUTH]: {}, [PROBE]: probe } },
  { name: 'bare', model: 'local/echo', skills: { [PROBE]: probe } },
]

const scopeOf = async (url: string, agent: string, headers: Record<string, string> = {}) => {
  const res = await getJson(`${url}/${agent}/probe/who`, headers)
  return res.status === 200 ? res.json.scope : res.status
}

describe('skill-auth setup', () => {
  const kernel = {} as KernelApi
  it('declares access and nothing else; required defaults to true, owner to the agent’s', async () => {
    expect(await skillAuth.setup({}, kernel)).toEqual({ access: { required: true, admins: [] } })
    expect(await skillAuth.setup({ required: false, owner: 'alice', admins: ['bob'] }, kernel)).toEqual({
      access: { required: false, owner: 'alice', admins: ['bob'] },
    })
  })
})

describe('skill-auth on a server', () => {
  let app: AuthApp
  let t: AuthServer

  beforeAll(async () => {
    app = await authApp()
    t = await startAuthServer(app, { plugins: { [LOCAL]: {}, [AUTH_KEYS]: keysSection }, agents })
  })
  afterAll(async () => {
    await t?.close()
    await app?.cleanup()
  })
  beforeEach(() => {
    record.length = 0
  })

  it('required: no key is a 401 on chat, the agent page and its skill routes; /{agent}/health stays public', async () => {
    for (const res of [await chat(t.url, 'guarded', 'hi'), await getJson(`${t.url}/guarded`), await getJson(`${t.url}/guarded/probe/x`)]) {
      expect(res.status).toBe(401)
      expect(res.json.error).toMatchObject({ type: 'authentication_error', code: 'RBT_ERR_UNAUTHENTICATED', param: null })
    }
    expect((await getJson(`${t.url}/guarded/health`)).status).toBe(200)
    // An agent without skill-auth is open to anonymous callers.
    expect((await chat(t.url, 'bare', 'anyone')).status).toBe(200)
  })

  it('required: false lets anonymous callers in with scope all', async () => {
    const res = await chat(t.url, 'open', 'anyone home')
    expect(res.status).toBe(200)
    expect(res.json.choices[0].message.content).toBe('anyone home')
    expect(await scopeOf(t.url, 'open')).toBe('all')
    expect(await scopeOf(t.url, 'open', bearer(AGENT_OWNER))).toBe('owner')
  })

  it('GET /agents hides agents that need a key from anonymous callers', async () => {
    const names = (res: any) => JSON.stringify(res.json)
    const anonymous = names(await getJson(`${t.url}/agents`))
    expect(anonymous).toContain('"open"')
    expect(anonymous).toContain('"bare"')
    expect(anonymous).not.toContain('"guarded"')
    expect(names(await getJson(`${t.url}/agents`, bearer(PLAIN)))).toContain('"guarded"')
  })

  it("the agent's owner gets owner scope, the skill's owner overrides it, the skill's admins get admin", async () => {
    expect(await scopeOf(t.url, 'guarded', bearer(PLAIN))).toBe('all')
    expect(await scopeOf(t.url, 'guarded', bearer(AGENT_OWNER))).toBe('owner')
    expect(await scopeOf(t.url, 'guarded', bearer(SKILL_ADMIN))).toBe('admin')
    expect(await scopeOf(t.url, 'guarded', bearer(ROOT_ADMIN))).toBe('admin')
    expect(await scopeOf(t.url, 'owned', bearer(SKILL_OWNER))).toBe('owner')
    expect(await scopeOf(t.url, 'owned', bearer(AGENT_OWNER))).toBe('all')
    // Admins of one agent are nobody special on another.
    expect(await scopeOf(t.url, 'owned', bearer(SKILL_ADMIN))).toBe('all')
  })

  it('an owner-only tool the model calls for an `all` caller is refused and never runs', async () => {
    const res = await chat(t.url, 'guarded', '/tool owner_secret {}', bearer(PLAIN))
    expect(res.status).toBe(200)
    const answer = JSON.parse(res.json.choices[0].message.content)
    expect(answer.error.code).toBe('RBT_ERR_TOOL_FORBIDDEN')
    expect(res.text).not.toContain('the owner secret')
    expect(record).not.toContain('owner_secret:ran')

    // Streamed the same way.
    const response = await fetch(`${t.url}/owned/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(AGENT_OWNER) },
      body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: '/tool owner_secret {}' }] }),
    })
    const { events, done } = await readSse(response)
    expect(done).toBe(true)
    const text = events.map((e) => e.choices?.[0]?.delta?.content ?? '').join('')
    expect(text).toContain('RBT_ERR_TOOL_FORBIDDEN')
    expect(record).not.toContain('owner_secret:ran')
  })

  it('the owner and the admins may run it', async () => {
    for (const [agent, token] of [
      ['guarded', AGENT_OWNER],
      ['guarded', SKILL_ADMIN],
      ['owned', SKILL_OWNER],
    ] as const) {
      record.length = 0
      const res = await chat(t.url, agent, '/tool owner_secret {}', bearer(token))
      expect(res.json.choices[0].message.content).toBe('the owner secret')
      expect(record).toContain('owner_secret:ran')
    }
  })

  it('tools and prompts offered to the model follow the scope', async () => {
    const offered = async (token: string) => JSON.parse((await chat(t.url, 'peek', 'what do you see', bearer(token))).json.choices[0].message.content)
    const forAll = await offered(PLAIN)
    expect(forAll.tools).not.toContain('owner_secret')
    expect(forAll.tools).toContain('add')
    expect(JSON.stringify(forAll.messages)).not.toContain('probe prompt for owners')
    const forOwner = await offered(AGENT_OWNER)
    expect(forOwner.tools).toContain('owner_secret')
    expect(JSON.stringify(forOwner.messages)).toContain('probe prompt for owners')
  })

  it('an owner-only skill route is 403 for `all`, 401 without a key, and served to the owner', async () => {
    const url = `${t.url}/guarded/owner-only`
    const forbidden = await getJson(url, bearer(PLAIN), 'POST')
    expect(forbidden.status).toBe(403)
    expect(forbidden.json.error).toMatchObject({ type: 'permission_error', code: 'RBT_ERR_FORBIDDEN' })
    expect((await getJson(url, {}, 'POST')).status).toBe(401)
    const served = await getJson(url, bearer(AGENT_OWNER), 'POST')
    expect(served.status).toBe(200)
    expect(served.json).toEqual({ ok: true })
  })

  it('a skill-auth config that fails its schema stops startup, naming the agent', async () => {
    for (const bad of [{ required: 'yes' }, { admins: 'bob' }, { owners: ['bob'] }]) {
      const error = await createServer({
        appDir: app.dir,
        logDestination: { write: () => undefined },
        env: {},
        plugins: { [LOCAL]: {}, [AUTH_KEYS]: keysSection },
        agents: [{ name: 'bad', model: 'local/echo', skills: { [SKILL_AUTH]: bad } }],
      }).then(
        () => null,
        (e: Error & { problems?: unknown }) => `${e.message} ${JSON.stringify(e.problems ?? '')}`,
      )
      expect(error).toContain("Agent 'bad'")
      expect(error).toContain(SKILL_AUTH)
    }
  })

  it('no key material reaches the server log', () => {
    const log = t.logs.join('')
    expect(log).toContain('"msg":"request"')
    for (const secret of [PLAIN, AGENT_OWNER, SKILL_OWNER, SKILL_ADMIN, ROOT_ADMIN]) expect(log).not.toContain(secret)
  })
})
