// Logs: JSON lines, one per request with agent, status, duration, tokens and request id; no secret in any line.
import { createHook } from 'node:async_hooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runModuleScript } from './helpers/cli-process.js'
import { postJson, readSse, startServer, type TestServer } from './helpers/test-server.js'

const SECRET = 'sk-live-TOPSECRET0123456789abcdef'

describe('request logs', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startServer(['local'], {
      logLevel: 'info',
      plugins: { '@robutler/plugin-local': {} },
      agents: [{ name: 'echo', model: 'local/echo' }],
    })
  })
  afterAll(() => t.close())

  const lines = () => t.logs.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line))

  it('one JSON line per request, streamed ones included, with agent, status, duration, tokens and request id', async () => {
    await postJson(`${t.url}/echo/chat/completions`, { messages: [{ role: 'user', content: 'one two three' }] }, { 'x-request-id': 'log-1', authorization: `Bearer ${SECRET}` })
    const res = await fetch(`${t.url}/echo/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'log-2', 'x-api-key': SECRET },
      body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'four five' }] }),
    })
    await readSse(res)
    await postJson(`${t.url}/nobody/chat/completions`, { messages: [{ role: 'user', content: 'x' }] }, { 'x-request-id': 'log-3' })
    await new Promise((r) => setTimeout(r, 50))
    const requests = lines().filter((l) => l.msg === 'request')
    // The client's own ids are logged as clientRequestId; reqId is the server's.
    const byId = (id: string) => requests.filter((l) => l.clientRequestId === id)
    expect(byId('log-1')).toHaveLength(1)
    expect(byId('log-1')[0]).toMatchObject({ level: 'info', method: 'POST', status: 200, agent: 'echo', tokens: expect.any(Number) })
    expect(byId('log-1')[0].durationMs).toBeGreaterThan(0)
    expect(byId('log-2')).toHaveLength(1)
    expect(byId('log-2')[0]).toMatchObject({ status: 200, agent: 'echo', tokens: expect.any(Number) })
    expect(byId('log-3')[0]).toMatchObject({ status: 404 })
  })

  it('no line carries a key, whatever the request sent', () => {
    expect(t.logs.join('')).not.toContain('TOPSECRET')
  })

  it('a server on the default destination (stdout, batched) leaves no timer behind once closed', async () => {
    const { createServer } = await import('@robutler/kernel')
    // Every timer made from here on (unref'd ones too, which process.getActiveResourcesInfo does not list).
    const live = new Map<number, string>()
    const hook = createHook({
      init(id, type, _trigger, resource) {
        if (type === 'Timeout') live.set(id, String((resource as { _onTimeout?: unknown })._onTimeout).slice(0, 120))
      },
      destroy(id) {
        live.delete(id)
      },
    }).enable()
    try {
      const server = await createServer({ appDir: process.cwd(), logLevel: 'silent', plugins: {}, agents: [], env: {} })
      await server.listen({ host: '127.0.0.1', port: 0 })
      expect(live.size).toBeGreaterThan(0) // the log flush and the kernel's sweep, at least
      await server.close()
      await new Promise((resolve) => setImmediate(resolve))
      expect([...live.values()]).toEqual([])
    } finally {
      hook.disable()
    }
  })

  it('the default destination (stdout, batched) writes every line, those still gathered at process.exit too', async () => {
    // Three request lines are far less than a batch: only the exit flush can write them before the process ends.
    const script = `
      import { createServer } from '@robutler/kernel'
      const server = await createServer({ appDir: process.cwd(), logLevel: 'info', plugins: { '@robutler/plugin-local': {} }, agents: [{ name: 'echo', model: 'local/echo' }], env: {} })
      const url = await server.listen({ host: '127.0.0.1', port: 0 })
      for (let i = 0; i < 3; i++) {
        const res = await fetch(url + '/echo/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'exit-' + i }, body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }) })
        await res.text()
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
      process.exit(0)
    `
    const stdout = await runModuleScript(script)
    const requests = stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line)).filter((line) => line.msg === 'request')
    expect(requests.map((line) => [line.clientRequestId, line.status])).toEqual([['exit-0', 200], ['exit-1', 200], ['exit-2', 200]])
  })

  it('ROBUTLER_LOG_LEVEL must name a level', async () => {
    const { optionsFromConfig } = await import('@robutler/kernel')
    expect(() => optionsFromConfig({}, '/tmp', { ROBUTLER_LOG_LEVEL: 'loud' })).toThrow(/ROBUTLER_LOG_LEVEL must be one of/)
  })
})
