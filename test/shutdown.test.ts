// Graceful shutdown of a real `robutler start` process: SIGTERM during 20 in-flight streams lets every stream
// finish, turns new requests and /health into 503 draining, then exits 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeApp, type FixtureApp } from './helpers/fixture-app.js'
import { killIfAlive, startServer, type RunningServer } from './helpers/cli-process.js'
import { LOCAL_PLUGIN, linkLocalPlugin, words, writeConfig } from './helpers/kernel-app.js'

const STREAMS = 20
const MESSAGE = words(40)
const CHUNK_DELAY_MS = 50

let fixture: FixtureApp
let server: RunningServer

beforeAll(async () => {
  fixture = await makeApp({ packages: [] })
  await linkLocalPlugin(fixture.dir)
  const config = await writeConfig(fixture.dir, {
    server: { host: '127.0.0.1', urlPrefix: '/api/v1', logLevel: 'info' },
    plugins: { [LOCAL_PLUGIN]: { chunkDelayMs: CHUNK_DELAY_MS } },
    agents: [{ name: 'echo', model: 'local/echo' }],
  })
  server = await startServer(['--config', config, '--port', '0'])
})

afterAll(async () => {
  killIfAlive(server?.child)
  await fixture?.cleanup()
})

interface StreamResult {
  status: number
  contentType: string | null
  events: string[]
  content: string
  finishReasons: string[]
  ids: Set<string>
  doneAt: number
}

/** One streaming chat request; `onFirstChunk` fires when its first SSE event has arrived. */
async function streamChat(onFirstChunk: () => void): Promise<StreamResult> {
  const response = await fetch(`${server.address}/api/v1/echo/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'local/echo', stream: true, messages: [{ role: 'user', content: MESSAGE }] }),
  })
  const result: StreamResult = {
    status: response.status,
    contentType: response.headers.get('content-type'),
    events: [],
    content: '',
    finishReasons: [],
    ids: new Set(),
    doneAt: 0,
  }
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true })
    let end: number
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const event = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      if (result.events.length === 0) onFirstChunk()
      result.events.push(event)
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue
      const chunk = JSON.parse(event.slice('data: '.length))
      if (chunk.id) result.ids.add(chunk.id)
      for (const choice of chunk.choices ?? []) {
        if (typeof choice.delta?.content === 'string') result.content += choice.delta.content
        if (choice.finish_reason) result.finishReasons.push(choice.finish_reason)
      }
    }
  }
  result.doneAt = Date.now()
  return result
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 2_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('SIGTERM during in-flight streams', () => {
  it('finishes all 20 streams, answers new requests 503 draining, and exits 0', async () => {
    let started = 0
    let finished = 0
    let allStarted!: () => void
    const allStartedPromise = new Promise<void>((resolve) => (allStarted = resolve))
    const streams = Array.from({ length: STREAMS }, () =>
      streamChat(() => {
        if (++started === STREAMS) allStarted()
      }).finally(() => finished++),
    )
    await allStartedPromise
    expect(finished).toBe(0)

    const sigtermAt = Date.now()
    expect(server.child.kill('SIGTERM')).toBe(true)

    // The signal is handled asynchronously: wait until the server says it is draining.
    const health = await waitFor('/health to answer 503', async () => {
      const response = await fetch(`${server.address}/api/v1/health`)
      const body = await response.json()
      return response.status === 503 ? body : undefined
    })
    expect(health).toMatchObject({ status: 'draining', version: '1.0.0' })

    const refused = await fetch(`${server.address}/api/v1/echo/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'local/echo', stream: true, messages: [{ role: 'user', content: 'too late' }] }),
    })
    const refusedBody = await refused.json()
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(refusedBody).toEqual({
      error: { message: expect.stringMatching(/shutting down|draining/i), type: expect.any(String), code: 'RBT_ERR_DRAINING', param: null },
    })
    // All of this happened while the streams were still running.
    expect(finished).toBe(0)

    const results = await Promise.all(streams)
    for (const result of results) {
      expect(result.status).toBe(200)
      expect(result.contentType).toMatch(/^text\/event-stream/)
      expect(result.events.at(-1)).toBe('data: [DONE]')
      expect(result.events.filter((event) => event.includes('"error"'))).toEqual([])
      expect(result.content).toBe(MESSAGE)
      expect(result.finishReasons).toEqual(['stop'])
      expect(result.ids.size).toBe(1)
    }
    // Each stream outlived the signal by most of its 40 × 50 ms.
    const lastDone = Math.max(...results.map((r) => r.doneAt))
    expect(lastDone - sigtermAt).toBeGreaterThan(1_000)

    const exit = await server.exited
    expect(exit, server.stderr()).toMatchObject({ code: 0, signal: null })
    expect(server.logLines().some((line) => line.signal === 'SIGTERM')).toBe(true)
  })
})
