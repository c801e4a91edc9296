// The closed, typed event map: every event a request goes through reaches a plugin's listener, in order.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { events } from './fixtures/plugins/events/index.js'
import { postJson, startServer, type TestServer } from './helpers/test-server.js'

describe('kernel events', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startServer(['local', 'basics', 'events'], {
      plugins: { '@robutler/plugin-local': {}, 'robutler-plugin-events': {} },
      agents: [{ name: 'echo', model: 'local/echo', skills: { '@robutler/skill-basics': {} } }],
    })
  })
  afterAll(() => t.close())
  beforeEach(() => {
    events.length = 0
  })

  it('a tool-loop request emits request, agent, llm and tool events in order', async () => {
    const res = await postJson(`${t.url}/echo/chat/completions`, { messages: [{ role: 'user', content: '/tool calculate {"expression": "1+1"}' }] })
    await new Promise((r) => setTimeout(r, 20))
    const mine = events.filter((e) => e.requestId === res.headers.get('x-request-id'))
    expect(mine.map((e) => e.name)).toEqual(['request:start', 'agent:resolved', 'llm:start', 'llm:end', 'tool:start', 'tool:end', 'llm:start', 'llm:end', 'request:end'])
    expect(mine[1]).toMatchObject({ agent: 'echo', source: 'static' })
    expect(mine[5]).toMatchObject({ skill: '@robutler/skill-basics', tool: 'calculate', status: 'ok' })
    expect(mine.at(-1)).toMatchObject({ method: 'POST', route: '/:agent/chat/completions', status: 200, agent: 'echo' })
  })

  it('a listener that throws is logged and does not break the request', async () => {
    const other = await startServer(['local', 'events'], {
      plugins: { '@robutler/plugin-local': {}, 'robutler-plugin-events': { throwOn: 'llm:end' } },
      agents: [{ name: 'echo', model: 'local/echo' }],
    })
    try {
      const res = await postJson(`${other.url}/echo/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] })
      expect(res.status).toBe(200)
      expect(res.json.choices[0].message.content).toBe('hi')
      expect(other.logs.join('')).toContain('listener of llm:end failed on purpose')
    } finally {
      await other.close()
    }
  })
})
