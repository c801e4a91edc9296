// @robutler/plugin-agents-http: agent configs from a portal over real HTTP (a fake portal on 127.0.0.1), kept as
// ETag and Cache-Control say. The loader is tested directly through a minimal kernel (the kernel's own agent
// cache holds agents for 60 s, which would hide the plugin's caching), then end to end through a real server.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { AgentConfig, AgentLoader, KernelApi } from '@robutler/kernel'
import plugin from '@robutler/plugin-agents-http'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { AGENTS_HTTP, startAgentsServer, within, type AgentsServer } from './helpers/agents-app.js'
import { loggedAbout, postJson } from './helpers/test-server.js'

const TOKEN = 'Bearer portal-secret-7f3a'

interface PortalAnswer {
  status: number
  headers?: Record<string, string>
  body?: unknown
  /** Milliseconds to wait before answering. */
  delayMs?: number
}

/** A fake portal: answers GET /agents/NAME from `answers`, 304 when If-None-Match matches the answer's ETag. */
class FakePortal {
  readonly requests: Array<{ url: string; headers: IncomingHttpHeaders }> = []
  readonly answers = new Map<string, PortalAnswer>()
  server!: Server
  port = 0

  async start(port = 0): Promise<void> {
    this.server = createServer((request, response) => {
      this.requests.push({ url: request.url ?? '', headers: request.headers })
      const name = decodeURIComponent((request.url ?? '').replace(/^\/agents\//, ''))
      const answer = this.answers.get(name) ?? { status: 404, body: { error: 'no such agent' } }
      const send = () => {
        const etag = answer.headers?.etag
        if (etag !== undefined && request.headers['if-none-match'] === etag && answer.status === 200) {
          response.writeHead(304, { etag, ...(answer.headers?.['cache-control'] ? { 'cache-control': answer.headers['cache-control'] } : {}) })
          response.end()
          return
        }
        const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? null)
        response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
        response.end(body)
      }
      if (answer.delayMs) setTimeout(send, answer.delayMs)
      else send()
    })
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
  }

  get baseURL(): string {
    return `http://127.0.0.1:${this.port}/agents`
  }

  /** Requests for one agent. */
  for(name: string) {
    return this.requests.filter((request) => request.url === `/agents/${name}`)
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }
}

/** A kernel with just what the plugin's register uses; it captures the loader and every log call. */
async function loaderOf(config: Record<string, unknown>): Promise<{ load: (name: string) => Promise<AgentConfig | null>; logged: unknown[]; priority?: number }> {
  const logged: unknown[] = []
  let loader: AgentLoader | null = null
  let priority: number | undefined
  const log: any = {}
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) log[level] = (...args: unknown[]) => void logged.push(args)
  log.child = () => log
  const kernel = {
    version: '1.0.0',
    urlPrefix: '',
    baseDir: process.cwd(),
    env: {},
    agents: {
      addLoader: (fn: AgentLoader, options?: { priority?: number }) => {
        loader = fn
        priority = options?.priority
      },
      invalidate: () => {},
      stats: () => ({ static: 0, cached: 0, hits: 0, misses: 0, loads: 0, loadErrors: 0 }),
    },
    health: { add: () => {} },
    onReady: () => {},
    onClose: () => {},
    log,
  } as unknown as KernelApi
  await plugin.register(kernel, config as any)
  if (loader === null) throw new Error('the plugin registered no loader')
  const captured: AgentLoader = loader
  return { load: (name) => captured(name, { signal: new AbortController().signal }), logged, priority }
}

const agent = (instructions: string) => ({ model: 'local/echo', instructions })

describe('plugin-agents-http: the loader', () => {
  const portal = new FakePortal()
  beforeAll(() => portal.start())
  afterAll(() => portal.stop())
  beforeEach(() => {
    portal.requests.length = 0
    portal.answers.clear()
  })

  it('fetches GET {baseURL}/{name} with the configured headers, then serves it from cache while max-age lasts', async () => {
    portal.answers.set('support', { status: 200, headers: { 'cache-control': 'max-age=60' }, body: agent('v1') })
    const { load, priority } = await loaderOf({ baseURL: portal.baseURL, headers: { Authorization: TOKEN }, priority: 7 })
    expect(priority).toBe(7)
    expect(await load('support')).toEqual({ name: 'support', model: 'local/echo', instructions: 'v1' })
    expect(portal.for('support')).toHaveLength(1)
    expect(portal.for('support')[0].headers).toMatchObject({ authorization: TOKEN, accept: 'application/json' })
    for (let i = 0; i < 5; i++) expect((await load('support'))?.instructions).toBe('v1')
    expect(portal.for('support')).toHaveLength(1)
  })

  it('a trailing slash on baseURL and names needing no escaping build the same URL', async () => {
    portal.answers.set('a_b-1', { status: 200, body: agent('x') })
    const { load } = await loaderOf({ baseURL: `${portal.baseURL}/` })
    expect((await load('a_b-1'))?.name).toBe('a_b-1')
    expect(portal.requests.map((r) => r.url)).toEqual(['/agents/a_b-1'])
  })

  it('after max-age it revalidates with If-None-Match: 304 reuses the body, a changed ETag brings the new one', async () => {
    portal.answers.set('sales', { status: 200, headers: { etag: '"v1"', 'cache-control': 'max-age=1' }, body: agent('v1') })
    const { load } = await loaderOf({ baseURL: portal.baseURL })
    expect((await load('sales'))?.instructions).toBe('v1')
    expect((await load('sales'))?.instructions).toBe('v1')
    expect(portal.for('sales')).toHaveLength(1)

    await new Promise((resolve) => setTimeout(resolve, 1100))
    expect((await load('sales'))?.instructions).toBe('v1')
    expect(portal.for('sales')).toHaveLength(2)
    expect(portal.for('sales')[1].headers['if-none-match']).toBe('"v1"')
    // The 304 renewed the freshness: no third request yet.
    expect((await load('sales'))?.instructions).toBe('v1')
    expect(portal.for('sales')).toHaveLength(2)

    portal.answers.set('sales', { status: 200, headers: { etag: '"v2"', 'cache-control': 'no-cache' }, body: agent('v2') })
    await new Promise((resolve) => setTimeout(resolve, 1100))
    expect((await load('sales'))?.instructions).toBe('v2')
    expect(portal.for('sales')[2].headers['if-none-match']).toBe('"v1"')
  })

  it('no-cache revalidates on every load (304: same body); Age counts against max-age', async () => {
    portal.answers.set('nc', { status: 200, headers: { etag: 'W/"n"', 'cache-control': 'no-cache' }, body: agent('n') })
    portal.answers.set('aged', { status: 200, headers: { 'cache-control': 'public, max-age=30', age: '30' }, body: agent('a') })
    const { load } = await loaderOf({ baseURL: portal.baseURL })
    for (let i = 0; i < 3; i++) expect((await load('nc'))?.instructions).toBe('n')
    const nc = portal.for('nc')
    expect(nc).toHaveLength(3)
    expect(nc[0].headers['if-none-match']).toBeUndefined()
    expect(nc.slice(1).map((r) => r.headers['if-none-match'])).toEqual(['W/"n"', 'W/"n"'])
    await load('aged')
    await load('aged')
    expect(portal.for('aged')).toHaveLength(2)
  })

  it('no-store keeps nothing: every load is a full fetch without validators', async () => {
    portal.answers.set('ns', { status: 200, headers: { etag: '"s"', 'cache-control': 'no-store' }, body: agent('s') })
    const { load } = await loaderOf({ baseURL: portal.baseURL })
    await load('ns')
    await load('ns')
    expect(portal.for('ns').map((r) => r.headers['if-none-match'])).toEqual([undefined, undefined])
  })

  it('with no Cache-Control, `ttl` is the freshness (default 60 s; 0 revalidates every time)', async () => {
    portal.answers.set('plain', { status: 200, headers: { etag: '"p"' }, body: agent('p') })
    const cached = await loaderOf({ baseURL: portal.baseURL })
    await cached.load('plain')
    await cached.load('plain')
    expect(portal.for('plain')).toHaveLength(1)
    const eager = await loaderOf({ baseURL: portal.baseURL, ttl: 0 })
    await eager.load('plain')
    await eager.load('plain')
    expect(portal.for('plain')).toHaveLength(3)
    expect(portal.for('plain')[2].headers['if-none-match']).toBe('"p"')
  })

  it('404 is "no such agent", also for an agent that was there before', async () => {
    const { load } = await loaderOf({ baseURL: portal.baseURL, ttl: 0 })
    expect(await load('nobody')).toBeNull()
    portal.answers.set('leaving', { status: 200, body: agent('bye') })
    expect((await load('leaving'))?.instructions).toBe('bye')
    portal.answers.delete('leaving')
    expect(await load('leaving')).toBeNull()
  })

  it('a 5xx, a refused connection or a slow portal throws (the kernel answers 503), and no header value is ever logged or thrown', async () => {
    portal.answers.set('broken', { status: 500, body: { error: 'db down' } })
    portal.answers.set('slow', { status: 200, body: agent('late'), delayMs: 1000 })
    const { load, logged } = await loaderOf({ baseURL: portal.baseURL, headers: { authorization: TOKEN, 'x-portal-key': TOKEN }, timeout: 100 })
    const errors: Error[] = []
    await load('broken').catch((error) => errors.push(error))
    await load('slow').catch((error) => errors.push(error))
    const closed = new FakePortal()
    await closed.start()
    await closed.stop()
    const refused = await loaderOf({ baseURL: `${closed.baseURL}?token=query-secret`, headers: { authorization: TOKEN } })
    await refused.load('any').catch((error) => errors.push(error))

    expect(errors.map((error) => error.message)).toEqual([
      `GET ${portal.baseURL}/broken answered 500 Internal Server Error`,
      `GET ${portal.baseURL}/slow did not answer within 100 ms`,
      `GET ${closed.baseURL}/any failed: ECONNREFUSED`,
    ])
    const everything = JSON.stringify([logged, refused.logged, errors.map((error) => ({ ...error, message: error.message, cause: String((error as any).cause) }))])
    expect(everything).not.toContain('portal-secret')
    expect(everything).not.toContain('query-secret')
  })

  it('a redirect is refused rather than followed (it would carry the token elsewhere)', async () => {
    portal.answers.set('moved', { status: 302, headers: { location: 'http://127.0.0.1:9/elsewhere' } })
    const { load } = await loaderOf({ baseURL: portal.baseURL, headers: { authorization: TOKEN } })
    await expect(load('moved')).rejects.toThrow(/redirects are not followed/)
  })

  it('a body that is not JSON throws; one naming another agent is that agent\'s RBT_ERR_AGENT_INVALID', async () => {
    portal.answers.set('html', { status: 200, body: '<html>Bad Gateway</html>' })
    portal.answers.set('other', { status: 200, body: { name: 'someone-else', model: 'local/echo' } })
    portal.answers.set('list', { status: 200, body: [] })
    const { load } = await loaderOf({ baseURL: portal.baseURL })
    await expect(load('html')).rejects.toThrow(/answered 200 with a body that is not JSON/)
    await expect(load('other')).rejects.toMatchObject({ code: 'RBT_ERR_AGENT_INVALID', statusCode: 500, message: expect.stringContaining('"someone-else"') })
    await expect(load('list')).rejects.toMatchObject({ code: 'RBT_ERR_AGENT_INVALID' })
  })
})

describe('plugin-agents-http: end to end', () => {
  const portal = new FakePortal()
  let t: AgentsServer

  beforeAll(async () => {
    await portal.start()
    portal.answers.set('remote', { status: 200, headers: { etag: '"r1"' }, body: agent('from the portal') })
    portal.answers.set('later', { status: 200, body: agent('later') })
    portal.answers.set('bad', { status: 200, body: { model: 'local/echo', skills: { '@acme/skill-nope': {} } } })
    t = await startAgentsServer(['agentsHttp'], {
      urlPrefix: '/api/v1',
      plugins: { '@robutler/plugin-local': {}, [AGENTS_HTTP]: { baseURL: portal.baseURL, headers: { Authorization: TOKEN }, timeout: 500 } },
    })
  })
  afterAll(async () => {
    await t?.close()
    await portal.stop().catch(() => {})
  })
  afterEach(() => {
    expect(t.logs.join('\n')).not.toContain('portal-secret')
  })

  const chat = (name: string, content: string) => postJson(`${t.url}/${name}/chat/completions`, { messages: [{ role: 'user', content }] })

  it('an agent from the portal answers a chat request; its record is checked like a static one', async () => {
    const { status, json } = await chat('remote', 'hello portal')
    expect(status).toBe(200)
    expect(json.choices[0].message.content).toBe('hello portal')
    expect(portal.for('remote')[0].headers.authorization).toBe(TOKEN)
    expect((await chat('unknown', 'x')).json.error.code).toBe('RBT_ERR_AGENT_NOT_FOUND')
    const bad = await chat('bad', 'x')
    expect(bad.status).toBe(500)
    expect(bad.json.error.code).toBe('RBT_ERR_AGENT_INVALID')
    expect(bad.json.error.message).not.toContain('@acme/skill-nope')
    expect(loggedAbout(t.logs, bad.headers.get('x-request-id'))).toContain('@acme/skill-nope')
  })

  it('GET /agents says the portal cannot list its agents; they are still served by name', async () => {
    const agents = await fetch(`${t.url}/agents`).then((r) => r.json())
    expect(agents).toMatchObject({ data: [], dynamic_agents_enabled: true, dynamic_agents_listed: false, unlisted_loaders: [AGENTS_HTTP] })
    expect((await chat('remote', 'still here')).status).toBe(200)
  })

  it('portal down: a cached agent keeps serving, an unloaded one is 503 RBT_ERR_AGENT_UNAVAILABLE, and recovers once it is back', async () => {
    const port = portal.port
    await portal.stop()
    expect((await chat('remote', 'cached')).status).toBe(200)

    const down = await chat('later', 'x')
    expect(down.status).toBe(503)
    expect(down.json.error.code).toBe('RBT_ERR_AGENT_UNAVAILABLE')
    expect(down.json.error.message).toBe(`Agent 'later' is unavailable right now; retry shortly (request ${down.headers.get('x-request-id')})`)
    expect(loggedAbout(t.logs, down.headers.get('x-request-id'))).toContain('agent could not be loaded')
    expect(down.text).not.toContain('portal-secret')
    expect(down.text).not.toContain(String(port))
    // Not cached: still 503 while down, served as soon as the portal is back.
    expect((await chat('later', 'x')).status).toBe(503)

    await portal.start(port)
    await within(2000, async () => (await chat('later', 'back')).status === 200, 'the agent served again')
    expect((await chat('later', 'back again')).json.choices[0].message.content).toBe('back again')
  })
})
