// The kernel's loader chain with createServer's `dynamicAgents`: single-flight, caching, failures, validation.
import { request } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { AgentConfig } from '@robutler/kernel'
import { loggedAbout, postJson, startServer, type TestServer } from './helpers/test-server.js'

const ask = { messages: [{ role: 'user', content: 'hello dynamic' }] }

describe('dynamic agents through createServer({ dynamicAgents })', () => {
  let t: TestServer
  const calls: string[] = []
  let failing = false
  let gate: Promise<void> = Promise.resolve()

  const records: Record<string, AgentConfig | Record<string, unknown>> = {
    dyn: { name: 'dyn', model: 'local/echo' },
    crowd: { name: 'crowd', model: 'local/echo' },
    'bad-model': { name: 'bad-model', model: 'nowhere/model' },
    'bad-skill': { name: 'bad-skill', model: 'local/echo', skills: { '@acme/skill-missing': {} } },
    'bad-shape': { name: 'bad-shape', model: 'local/echo', temperature: 'hot' },
    flaky: { name: 'flaky', model: 'local/echo' },
  }

  beforeAll(async () => {
    t = await startServer(['local'], {
      // 1,000 sockets from one address are what the edge's per-address bound refuses; this file is about the loader.
      maxConnectionsPerIp: 0,
      plugins: { '@robutler/plugin-local': {} },
      agents: [{ name: 'static', model: 'local/echo' }],
      dynamicAgents: async (name) => {
        calls.push(name)
        await gate
        if (failing && name === 'flaky') throw new Error('the agent store is down')
        return (records[name] as AgentConfig) ?? null
      },
    })
  })
  afterAll(() => t.close())
  beforeEach(() => {
    calls.length = 0
  })

  const chat = (name: string) => postJson(`${t.url}/${name}/chat/completions`, ask)

  it('serves a dynamic agent and caches it', async () => {
    expect((await chat('dyn')).json.choices[0].message.content).toBe('hello dynamic')
    expect((await chat('dyn')).status).toBe(200)
    expect(calls).toEqual(['dyn'])
    const health = await (await fetch(`${t.url}/health`)).json()
    expect(health.dynamic_agents_enabled).toBe(true)
  })

  it('1,000 concurrent first requests for one agent load it once', async () => {
    let open: () => void = () => undefined
    gate = new Promise((resolve) => (open = resolve))
    const sockets = Array.from({ length: 1000 }, () =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${t.url}/crowd/chat/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume().on('end', () => resolve(res.statusCode!))
        })
        req.on('error', reject)
        req.end(JSON.stringify(ask))
      }),
    )
    await new Promise((r) => setTimeout(r, 300))
    open()
    const statuses = await Promise.all(sockets)
    gate = Promise.resolve()
    expect(statuses.every((s) => s === 200)).toBe(true)
    expect(calls.filter((c) => c === 'crowd')).toHaveLength(1)
  }, 60_000)

  it('an unknown name is 404 and briefly cached as unknown', async () => {
    expect((await chat('nobody-here')).status).toBe(404)
    expect((await chat('nobody-here')).status).toBe(404)
    expect(calls).toEqual(['nobody-here'])
  })

  it('names that cannot be agents never reach the loader', async () => {
    for (const name of ['health', 'UPPER', 'x'.repeat(65)]) await chat(name)
    expect(calls).toEqual([])
  })

  it('a loader that throws → 503 RBT_ERR_AGENT_UNAVAILABLE, not cached, then recovery', async () => {
    failing = true
    const down = await chat('flaky')
    expect(down.status).toBe(503)
    expect(down.json.error.code).toBe('RBT_ERR_AGENT_UNAVAILABLE')
    expect(down.json.error.message).not.toContain('the agent store is down')
    expect(loggedAbout(t.logs, down.headers.get('x-request-id'))).toContain('the agent store is down')
    expect(down.headers.get('retry-after')).toBe('1')
    expect((await chat('flaky')).status).toBe(503)
    failing = false
    expect((await chat('flaky')).status).toBe(200)
    expect(calls).toEqual(['flaky', 'flaky', 'flaky'])
  })

  it.each([
    ['bad-model', "provider 'nowhere'"],
    ['bad-skill', '@acme/skill-missing'],
    ['bad-shape', "unknown key 'temperature'"],
  ])('an invalid record (%s) is a clear error for that agent only', async (name, fragment) => {
    const res = await chat(name)
    expect(res.json.error.code).toBe('RBT_ERR_AGENT_INVALID')
    expect(res.json.error.message).toBe(`Agent '${name}' is misconfigured: the server log names the problems (request ${res.headers.get('x-request-id')})`)
    expect(loggedAbout(t.logs, res.headers.get('x-request-id'))).toContain(fragment)
    expect(res.text).not.toMatch(/\n\s+at /)
    // The refusal is remembered briefly, like an unknown name: the store is not asked again at once.
    expect((await chat(name)).json.error.code).toBe('RBT_ERR_AGENT_INVALID')
    expect(calls.filter((c) => c === name)).toHaveLength(1)
    expect((await chat('static')).status).toBe(200)
    expect((await chat('dyn')).status).toBe(200)
  })
})
