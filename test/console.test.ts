// @robutler/plugin-console in a real browser: Debian's chromium (/usr/bin/chromium, installed by .ci/run) driven by
// playwright-core from test/clients (installed once by the test command; nothing downloads a browser). Two
// servers on 127.0.0.1: the demo's shape (no authenticator: loopback only) and one with API keys (admin only).
// Screenshots of each view go to test/console-screenshots/ (gitignored), for a person to look at.
import { existsSync, mkdirSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureClients } from './clients/install.mjs'
import { cleanEnv, killIfAlive, startServer as startCli } from './helpers/cli-process.js'
import { postJson, ROOT, startServer, type TestServer } from './helpers/test-server.js'

const CHROMIUM = '/usr/bin/chromium'
const SHOTS = join(ROOT, 'test/console-screenshots')
const ADMIN_KEY = 'console-admin-key-1234567890'
const USER_KEY = 'console-user-key-1234567890'
const AGENT_ADMIN_KEY = 'console-agent-admin-key-1234567890'

type Playwright = typeof import('playwright-core')
type Browser = import('playwright-core').Browser
type Page = import('playwright-core').Page

let chromium: Playwright['chromium']
let browser: Browser
let demo: TestServer
let keyed: TestServer
/** Every URL the browser asked for, in every test: none may leave 127.0.0.1. */
const asked: string[] = []

const agents = [
  { name: 'echo', description: 'Answers with your last message, word by word.', model: 'local/echo', skills: { '@robutler/skill-basics': {} } },
  { name: 'inspector', description: 'Answers with what the model received.', model: 'local/inspect', fallbackModels: ['local/echo'] },
]

async function newPage(width = 1280, height = 900): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height } })
  page.on('request', (request) => void asked.push(request.url()))
  return page
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
}

/** The page's width beyond its viewport (0: no horizontal scroll). */
function overflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
}

/** expect.poll with room for a loaded machine (2 cores shared with other test files and a browser). */
function poll<T>(fn: () => T | Promise<T>, options: { timeout?: number; interval?: number } = {}) {
  return expect.poll(fn, { timeout: 8_000, ...options })
}

function logged(server: TestServer): Array<Record<string, any>> {
  return server.logs.flatMap((chunk) => chunk.split('\n')).filter(Boolean).map((line) => JSON.parse(line))
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`)
  ensureClients()
  chromium = (createRequire(join(ROOT, 'test/clients/package.json'))('playwright-core') as Playwright).chromium
  mkdirSync(SHOTS, { recursive: true })
  demo = await startServer(['local', 'basics', 'console'], {
    urlPrefix: '/api/v1',
    agents,
    plugins: { '@robutler/plugin-local': { chunkDelayMs: 40 }, '@robutler/plugin-console': {} },
  })
  keyed = await startServer(['local', 'basics', 'console', 'authKeys', 'usageStub'], {
    urlPrefix: '/api/v1',
    agents,
    plugins: {
      '@robutler/plugin-local': {},
      '@robutler/plugin-console': {},
      'robutler-plugin-usage-stub': {},
      '@robutler/plugin-auth-keys': {
        keys: [
          { key: ADMIN_KEY, userId: 'ops', scope: 'admin', id: 'ops' },
          { key: USER_KEY, userId: 'widget', id: 'widget' },
          { key: AGENT_ADMIN_KEY, userId: 'echo-admin', scope: 'admin', agents: ['echo'], id: 'echo-admin' },
        ],
      },
    },
  })
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await demo?.close()
  await keyed?.close()
  // Every request of every page went to the test servers on 127.0.0.1 (or was the page's own data: icon).
  for (const url of asked) expect(url.startsWith('http://127.0.0.1:') || url.startsWith('data:'), url).toBe(true)
})

describe("npm start's demo", () => {
  it('serves the console with the demo agents of robutler.config.json', async () => {
    const demoServer = await startCli(['--port', '0'], { cwd: ROOT, env: cleanEnv(), timeoutMs: 30_000 })
    try {
      const page = await newPage()
      await page.goto(`${demoServer.address}/api/v1/console`)
      await poll(() => page.locator('[data-agent]').count(), { timeout: 15_000 }).toBe(3)
      expect(await page.locator('[data-agent] h2').allTextContents()).toEqual(['echo', 'inspector', 'notes'])
      expect(await page.locator('#access-note').textContent()).toContain('loopback')
      await shot(page, 'demo-agents')
      await page.close()
    } finally {
      demoServer.child.kill('SIGTERM')
      await Promise.race([demoServer.exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
      killIfAlive(demoServer.child)
    }
  }, 60_000)
})

describe('console without an authenticator (the demo)', () => {
  it('shows the agents, says it is loopback only, and loads within the budget', async () => {
    const page = await newPage()
    let transferred = 0
    page.on('response', (response) => {
      transferred += Number(response.headers()['content-length'] ?? 0)
    })
    await page.goto(`${demo.url}/console`)
    await poll(() => page.locator('[data-agent]').count()).toBe(2)
    await poll(() => page.locator('#access-note').textContent()).toContain('loopback')
    expect(await page.locator('[data-tab="spend"]').count()).toBe(0)
    expect(await page.locator('[data-agent="echo"] h2').textContent()).toBe('echo')
    expect(await page.locator('[data-agent="inspector"]').textContent()).toContain('local/echo')
    await page.locator('[data-agent="echo"] summary').click()
    expect(await page.locator('[data-agent="echo"] table').textContent()).toContain('calculate')
    await poll(() => page.locator('[data-health="echo"]').textContent()).toBe('healthy')
    expect(transferred).toBeGreaterThan(0)
    expect(transferred).toBeLessThanOrEqual(150 * 1024)
    await shot(page, 'agents')
    await page.close()
  })

  it('runs a tool call as a step and shows its result, then the finish reason and usage', async () => {
    const page = await newPage()
    await page.goto(`${demo.url}/console#chat/echo`)
    await page.locator('#chat-input').fill('/tool calculate {"expression":"6*7"}')
    await page.keyboard.press('Control+Enter')
    await poll(() => page.locator('.step.tool-call').count()).toBe(1)
    expect(await page.locator('.step.tool-call summary').textContent()).toContain('calculate')
    await poll(() => page.locator('.step.tool-result pre').textContent()).toBe('42')
    await poll(() => page.locator('.msg.assistant .text').last().textContent()).toBe('42')
    await poll(() => page.locator('.finish').textContent()).toContain('finish: stop')
    await shot(page, 'chat-tool')

    // The same agent through the public Chat Completions route, as any OpenAI client: the final text and usage only.
    await page.locator('#chat-route').selectOption('chat')
    await page.locator('#chat-input').fill('/tool calculate {"expression":"6*7"}')
    await page.locator('#chat-send').click()
    await poll(() => page.locator('.finish').count()).toBe(2)
    expect(await page.locator('.msg.assistant').last().locator('.text').textContent()).toBe('42')
    expect(await page.locator('.msg.assistant').last().locator('.step').count()).toBe(0)
    expect(await page.locator('.finish').last().textContent()).toMatch(/finish: stop · \d+ in, \d+ out · local\/echo/)
    expect(logged(demo).some((line) => line.msg === 'request' && line.url === '/api/v1/chat/completions' && line.status === 200)).toBe(true)
    await page.close()
  })

  it('streams an answer chunk by chunk, and Stop aborts the run (the server logs the abort)', async () => {
    const page = await newPage()
    await page.goto(`${demo.url}/console#chat/echo`)
    const words = Array.from({ length: 30 }, (_, i) => `w${i + 1}`).join(' ')
    await page.locator('#chat-input').fill(words)
    await page.locator('#chat-send').click()
    const text = page.locator('.msg.assistant .text').last()
    // Part of the answer is on the page while the rest is still coming (40 ms a word on the server).
    await poll(async () => ((await text.textContent()) ?? '').split(' ').filter(Boolean).length, { interval: 20 }).toBeGreaterThan(2)
    const partial = (await text.textContent())!
    expect(partial.length).toBeLessThan(words.length)
    await poll(() => text.textContent(), { timeout: 10_000 }).toBe(words)
    await poll(() => page.locator('.finish').last().textContent()).toContain('finish: stop')

    const long = Array.from({ length: 400 }, (_, i) => `x${i + 1}`).join(' ')
    await page.locator('#chat-input').fill(long)
    await page.locator('#chat-send').click()
    await poll(async () => ((await page.locator('.msg.assistant .text').last().textContent()) ?? '').length).toBeGreaterThan(5)
    await page.locator('#chat-stop').click()
    await poll(() => page.locator('.finish.stopped').count()).toBe(1)
    await poll(() => logged(demo).some((line) => line.msg === 'request' && line.url === '/api/v1/console/chat' && line.aborted === true), { timeout: 10_000 })
      .toBe(true)
    expect(((await page.locator('.msg.assistant .text').last().textContent()) ?? '').length).toBeLessThan(long.length)
    await shot(page, 'chat-stopped')
    await page.close()
  })

  it('moves the live figures after a burst of requests, and lists them under Requests', async () => {
    const page = await newPage()
    await page.goto(`${demo.url}/console#live`)
    await poll(() => page.locator('[data-figure="rps"] .value').textContent()).toMatch(/^\d+$/)
    const burst = Array.from({ length: 40 }, () => postJson(`${demo.url}/echo/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] }))
    burst.push(postJson(`${demo.url}/nobody/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] }))
    await Promise.all(burst)
    await poll(async () => Number(await page.locator('[data-figure="rps"] .value').textContent()), { timeout: 10_000 }).toBeGreaterThan(0)
    await poll(() => page.locator('.codes').textContent(), { timeout: 10_000 }).toContain('RBT_ERR_AGENT_NOT_FOUND')
    await shot(page, 'live')

    await page.locator('[data-tab="requests"]').click()
    await poll(() => page.locator('table.requests tbody tr').count()).toBeGreaterThanOrEqual(41)
    await page.locator('#requests-filter').fill('nobody 404')
    await poll(() => page.locator('table.requests tbody tr').count()).toBe(1)
    await page.locator('table.requests tbody tr button').first().click()
    await poll(() => page.locator('#request-detail').textContent()).toContain('RBT_ERR_AGENT_NOT_FOUND')
    await shot(page, 'requests')

    await page.locator('[data-tab="packages"]').click()
    await poll(() => page.locator('[data-package="@robutler/plugin-console"]').textContent()).toContain('yes')
    await shot(page, 'packages')
    await page.close()
  })

  it('is usable by keyboard, and dark when the system is', async () => {
    const page = await newPage()
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.goto(`${demo.url}/console`)
    await page.locator('[data-agent="echo"]').waitFor()
    await page.locator('[data-tab="agents"]').focus()
    await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    await poll(() => page.locator('#view').getAttribute('data-view')).toBe('chat')
    await poll(() => page.evaluate(() => document.activeElement?.id)).toBe('chat-input')
    await page.keyboard.type('hello by keyboard')
    await page.keyboard.press('Control+Enter')
    await poll(() => page.locator('.msg.assistant .text').last().textContent(), { timeout: 10_000 }).toBe('hello by keyboard')
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    expect(background).toBe('rgb(17, 20, 24)')
    await shot(page, 'chat-dark')
    await page.close()
  })

  it('has no horizontal scroll at 360 px wide, in every view', async () => {
    const page = await newPage(360, 740)
    for (const view of ['agents', 'chat/echo', 'live', 'requests', 'packages']) {
      await page.goto(`${demo.url}/console#${view}`)
      await page.locator('#tabs button').first().waitFor()
      await page.waitForTimeout(300)
      expect(await overflow(page), view).toBe(0)
      await shot(page, `narrow-${view.replace('/', '-')}`)
    }
    await page.close()
  })

  it('refuses a client that is not on this machine, and pages of other hosts or origins (DNS rebinding)', async () => {
    const page = await fetch(`${demo.url}/console`, { headers: { 'x-forwarded-for': '203.0.113.9' } })
    expect(page.status).toBe(403)
    expect((await page.json()).error.code).toBe('RBT_ERR_CONSOLE_LOOPBACK_ONLY')
    const { port } = new URL(demo.url)
    const asking = (headers: Record<string, string>) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/api/v1/console/api/agents', headers }, (res) => {
          let text = ''
          res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => resolve({ status: res.statusCode!, text }))
        })
        req.on('error', reject)
        req.end()
      })
    const rebound = await asking({ host: `attacker.example:${port}` })
    expect(rebound.status).toBe(403)
    expect(rebound.text).toContain("host 'attacker.example'")
    const otherOrigin = await asking({ host: `127.0.0.1:${port}`, origin: 'http://localhost:3000' })
    expect(otherOrigin.status).toBe(403)
    expect(otherOrigin.text).toContain('RBT_ERR_CONSOLE_LOOPBACK_ONLY')
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) expect((await asking({ host })).status).toBe(200)
  })
})

describe('console with API keys', () => {
  it('ends an open figures stream when the server closes, without holding the close', async () => {
    const own = await startServer(['local', 'basics', 'console'], { urlPrefix: '/api/v1', agents, plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-console': {} } })
    const stream = await fetch(`${own.url}/console/api/figures`)
    expect(stream.status).toBe(200)
    expect(stream.headers.get('content-type')).toContain('text/event-stream')
    const reader = stream.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"history"')
    const started = Date.now()
    await own.close()
    expect(Date.now() - started).toBeLessThan(900)
    for (;;) if ((await reader.read().catch(() => ({ done: true }))).done) break
  })

  it('asks for a key; refuses a wrong key, a non-admin key and an admin of some agents; accepts an admin key', async () => {
    const page = await newPage()
    await page.goto(`${keyed.url}/console`)
    await page.locator('#key').waitFor()
    await shot(page, 'key-form')

    await page.locator('#key').fill('not-a-key-at-all')
    await page.keyboard.press('Enter')
    await poll(() => page.locator('#key-error').textContent()).toContain('RBT_ERR_')
    expect(await page.locator('[data-agent]').count()).toBe(0)
    await shot(page, 'key-refused')

    await page.locator('#key').fill(USER_KEY)
    await page.keyboard.press('Enter')
    await poll(() => page.locator('#key-error').textContent()).toContain('RBT_ERR_CONSOLE_NOT_ADMIN')
    expect(await page.locator('[data-agent]').count()).toBe(0)

    await page.locator('#key').fill(AGENT_ADMIN_KEY)
    await page.keyboard.press('Enter')
    await poll(() => page.locator('#key-error').textContent()).toContain('agent list')

    await page.locator('#key').fill(ADMIN_KEY)
    await page.keyboard.press('Enter')
    await poll(() => page.locator('[data-agent]').count()).toBe(2)
    expect(await page.locator('#access-note').textContent()).toContain('admin key')
    // The key stays in this tab's sessionStorage; the page never got it from the server.
    expect(await page.evaluate(() => sessionStorage.getItem('robutler-console-key'))).toBe(ADMIN_KEY)

    await page.goto(`${keyed.url}/console#chat/echo`)
    await page.locator('#chat-input').fill('/tool calculate {"expression":"6*7"}')
    await page.locator('#chat-send').click()
    await poll(() => page.locator('.step.tool-result pre').textContent()).toBe('42')

    // A server with GET {urlPrefix}/usage (plugin-usage's endpoint) gets a Spend tab; the demo's has none.
    await page.locator('[data-tab="spend"]').click()
    await poll(() => page.locator('#view').textContent()).toContain('local/echo')
    expect(await page.locator('#view h3').allTextContents()).toEqual(['By key', 'By user', 'By agent', 'By model'])
    await shot(page, 'spend')
    await page.close()
  })

  it('lists dynamic agents in the cache, and the running server\'s packages', async () => {
    const guarded = { name: 'guarded', model: 'local/echo', owner: 'ann', scopes: ['owner'], skills: { '@robutler/skill-auth': { admins: ['ops'] } } }
    const own = await startServer(['local', 'basics', 'skillAuth', 'console'], {
      urlPrefix: '/api/v1',
      agents: [...agents, guarded],
      dynamicAgents: async (name) => (name === 'dyn' ? { name: 'dyn', description: 'Loaded on demand.', model: 'local/echo', scopes: ['all'] } : null),
      plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-console': {} },
    })
    try {
      const before = await (await fetch(`${own.url}/console/api/agents`)).json()
      expect(before.agents.map((a: any) => a.name)).toEqual(['echo', 'inspector', 'guarded'])
      expect(before.agents[2]).toMatchObject({ owner: 'ann', admins: ['ops'], scopes: ['owner'], requireIdentity: true, source: 'static' })
      expect(before.agents[0]).toMatchObject({ owner: null, admins: [], scopes: ['all'], requireIdentity: false })
      expect((await postJson(`${own.url}/dyn/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] })).status).toBe(200)
      const after = await (await fetch(`${own.url}/console/api/agents`)).json()
      expect(after.agents.find((a: any) => a.name === 'dyn')).toMatchObject({ source: 'cache', description: 'Loaded on demand.', model: 'local/echo', skills: [] })
      expect(after.cache.cached).toBe(1)
      const echo = after.agents.find((a: any) => a.name === 'echo')
      expect(echo.skills[0].tools.find((t: any) => t.name === 'calculate')).toMatchObject({ scope: 'all', runs: 'inline', isolated: false })
      const packages = await (await fetch(`${own.url}/console/api/packages`)).json()
      expect(packages.problems).toEqual([])
      expect(packages.packages.find((p: any) => p.name === '@robutler/plugin-console')).toMatchObject({ kind: 'plugin', enabled: true, compatible: true, kernelRange: '^1.0.0' })
      const requests = await (await fetch(`${own.url}/console/api/requests?agent=dyn`)).json()
      expect(requests.requests).toHaveLength(1)
      expect(requests.requests[0]).toMatchObject({ agent: 'dyn', surface: 'chat', status: 200, error: null, aborted: false })
      expect(requests.requests[0].tokens).toBeGreaterThan(0)
      expect(requests.requests[0].models[0].model).toBe('local/echo')
    } finally {
      await own.close()
    }
  })

  it('answers the API to admin keys only, and never a secret', async () => {
    const none = await fetch(`${keyed.url}/console/api/agents`)
    expect(none.status).toBe(401)
    expect((await none.json()).error.code).toBe('RBT_ERR_CONSOLE_KEY_REQUIRED')
    const user = await fetch(`${keyed.url}/console/api/agents`, { headers: { authorization: `Bearer ${USER_KEY}` } })
    expect(user.status).toBe(403)
    const chat = await postJson(`${keyed.url}/console/chat`, { model: 'echo', messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${USER_KEY}` })
    expect(chat.status).toBe(403)
    for (const path of ['agents', 'packages', 'requests', 'session']) {
      const answer = await fetch(`${keyed.url}/console/api/${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
      expect(answer.status).toBe(200)
      const text = await answer.text()
      for (const secret of [ADMIN_KEY, USER_KEY, AGENT_ADMIN_KEY]) expect(text).not.toContain(secret)
    }
    const page = await fetch(`${keyed.url}/console`)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(page.headers.get('content-security-policy')).not.toContain('unsafe-inline')
  })
})
