// The HTTP edge, over real sockets: a client that sends its request slowly is bounded (headersTimeout,
// bodyTimeout), one client address holds at most maxConnectionsPerIp connections, and what Node refuses before a
// request exists (408, 431, malformed HTTP) is OpenAI-shaped. Slow clients come from 127.0.0.2 and the server's
// own checks from 127.0.0.1 (both loopback on Linux), so the per-address limit tells them apart.
import { Agent, request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postJson, startServer, type TestServer } from './helpers/test-server.js'

const SLOW_ADDRESS = '127.0.0.2'

interface SlowResult {
  /** Milliseconds from connecting to the server closing the socket. */
  closedAfterMs: number
  /** What the server wrote before closing. */
  answer: string
  /** Bytes of the body the client had sent. */
  sent: number
  error: string | null
}

/**
 * A client that announces a 100,000-byte body and sends one byte every `everyMs`: bounded in bytes (`maxBytes`)
 * and time (it gives up after `giveUpMs`, which the test must never see).
 */
function slowBody(
  port: number,
  options: { everyMs: number; maxBytes: number; giveUpMs: number; headersOnly?: boolean },
): { socket: Socket; opened: Promise<void>; done: Promise<SlowResult> } {
  let sent = 0
  let answer = ''
  let error: string | null = null
  const started = performance.now()
  const socket: Socket = connect({ host: '127.0.0.1', port, localAddress: SLOW_ADDRESS })
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const head = 'POST /echo/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n'
  socket.once('connect', () => socket.write(options.headersOnly ? head.slice(0, 40) : `${head}\r\n{`))
  const drip = setInterval(() => {
    if (sent >= options.maxBytes || !socket.writable) return
    socket.write(options.headersOnly ? 'x' : ' ')
    sent++
  }, options.everyMs)
  const giveUp = setTimeout(() => socket.destroy(new Error('GAVE_UP')), options.giveUpMs)
  socket.on('data', (chunk) => (answer += chunk.toString('utf8')))
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message))
  const done = new Promise<SlowResult>((resolve) => {
    socket.once('close', () => {
      clearInterval(drip)
      clearTimeout(giveUp)
      resolve({ closedAfterMs: performance.now() - started, answer, sent, error })
    })
  })
  return { socket, opened, done }
}

/** GET /health from `localAddress` on a fresh connection: the status, or the connection error's code. */
function healthFrom(url: string, localAddress: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(`${url}/health`, { agent: false, localAddress }, (res) => res.resume().on('end', () => resolve(res.statusCode!)))
    req.setTimeout(5_000, () => req.destroy(new Error('TIMEOUT')))
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
    req.end()
  })
}

/** Sends raw bytes on a fresh connection and answers everything the server wrote before it closed. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    let answer = ''
    const giveUp = setTimeout(() => socket.destroy(), 5_000)
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')))
    socket.on('error', reject)
    socket.on('close', () => {
      clearTimeout(giveUp)
      resolve(answer)
    })
    socket.write(bytes)
  })
}

function openAiBody(answer: string): { status: number; headers: string; body: any } {
  const [head = '', body = ''] = answer.split('\r\n\r\n')
  return { status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: JSON.parse(body) }
}

/** GET /health over a warm keep-alive connection from 127.0.0.1: its time in milliseconds. */
function timedHealth(url: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const req = request(`${url}/health`, { agent }, (res) => {
      res.resume().on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`status ${res.statusCode}`))))
    })
    req.setTimeout(5_000, () => req.destroy(new Error('health did not answer in 5 s')))
    req.on('error', reject)
    req.end()
  })
}

describe('the HTTP edge', () => {
  let t: TestServer
  let port: number
  beforeAll(async () => {
    t = await startServer(['local'], {
      headersTimeout: 1,
      bodyTimeout: 2,
      maxConnectionsPerIp: 200,
      plugins: { '@robutler/plugin-local': {} },
      agents: [{ name: 'echo', model: 'local/echo' }],
    })
    port = Number(new URL(t.url).port)
  })
  afterAll(() => t?.close())

  it('100 slow bodies: /health still answers within 50 ms, and every one is closed by bodyTimeout with an OpenAI-shaped 408', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      await timedHealth(t.url, agent) // the connection /health is asked on, open before the slow clients come
      const slow = Array.from({ length: 100 }, () => slowBody(port, { everyMs: 250, maxBytes: 40, giveUpMs: 10_000 }))
      await Promise.all(slow.map((s) => s.opened))
      const times: number[] = []
      for (let i = 0; i < 5; i++) times.push(await timedHealth(t.url, agent))
      times.sort((a, b) => a - b)
      expect(times[2], `/health took ${times.map((ms) => ms.toFixed(1)).join(', ')} ms`).toBeLessThan(50)

      const results = await Promise.all(slow.map((s) => s.done))
      for (const result of results) {
        expect(result.error).toBeNull()
        // bodyTimeout 2 s, checked every 250 ms (a quarter of the shorter bound): closed between 2 and ~3 s.
        expect(result.closedAfterMs).toBeGreaterThanOrEqual(1_900)
        expect(result.closedAfterMs).toBeLessThan(4_000)
        expect(result.sent).toBeLessThan(20)
        const { status, headers, body } = openAiBody(result.answer)
        expect(status).toBe(408)
        expect(headers).toContain('connection: close')
        expect(body).toEqual({ error: { message: 'The request did not arrive in time: its headers must arrive within 1 s and the whole request within 2 s', type: 'timeout_error', code: 'RBT_ERR_RECEIVE_TIMEOUT', param: null } })
      }
      expect((await postJson(`${t.url}/echo/chat/completions`, { messages: [{ role: 'user', content: 'still here' }] })).json.choices[0].message.content).toBe('still here')
    } finally {
      agent.destroy()
    }
  })

  it('headers that never finish are closed by headersTimeout, with the same 408', async () => {
    const { done } = slowBody(port, { everyMs: 200, maxBytes: 40, giveUpMs: 10_000, headersOnly: true })
    const result = await done
    expect(result.closedAfterMs).toBeGreaterThanOrEqual(900)
    expect(result.closedAfterMs).toBeLessThan(2_500)
    expect(openAiBody(result.answer).body.error.code).toBe('RBT_ERR_RECEIVE_TIMEOUT')
  })

  it('headers past 16 KB are a 431 and a NUL in a header a 400, both OpenAI-shaped', async () => {
    const large = openAiBody(await rawExchange(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`))
    expect(large.status).toBe(431)
    expect(large.body).toEqual({ error: { message: 'The request headers are larger than the server accepts', type: 'invalid_request_error', code: 'RBT_ERR_HEADERS_TOO_LARGE', param: null } })
    const nul = openAiBody(await rawExchange(port, 'GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\0b\r\n\r\n'))
    expect(nul.status).toBe(400)
    expect(nul.body.error).toMatchObject({ code: 'RBT_ERR_INVALID_REQUEST', type: 'invalid_request_error', message: expect.stringContaining('Malformed HTTP request') })
  })

  it('a body nested 100,000 levels deep is a 400 naming the limit, not a 502 from a stack overflow', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    const body = `{"messages":[{"role":"user","content":[{"type":"text","text":"x","extra":${deep}}]}]}`
    const res = await fetch(`${t.url}/echo/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: { message: 'The request body nests JSON deeper than 128 levels', type: 'invalid_request_error', code: 'RBT_ERR_INVALID_REQUEST', param: null } })
    // Deep strings are no nesting: brackets inside a string do not count.
    const text = await postJson(`${t.url}/echo/chat/completions`, { messages: [{ role: 'user', content: '['.repeat(1000) }] })
    expect(text.json.choices[0].message.content).toBe('['.repeat(1000))
  })
})

describe('connections per client address', () => {
  it('past maxConnectionsPerIp one address gets no more (closed at once, warned about); others are served; closing frees room', async () => {
    const t = await startServer(['local'], { maxConnectionsPerIp: 20, plugins: { '@robutler/plugin-local': {} }, agents: [{ name: 'echo', model: 'local/echo' }] })
    const port = Number(new URL(t.url).port)
    const held: Array<ReturnType<typeof slowBody>> = []
    try {
      for (let i = 0; i < 30; i++) held.push(slowBody(port, { everyMs: 500, maxBytes: 10, giveUpMs: 8_000 }))
      const refused = await Promise.race([
        Promise.all(held.slice(20).map((h) => h.done)),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 3_000)),
      ])
      expect(refused, 'the ten over the limit were closed at once').not.toBeNull()
      for (const result of refused!) {
        expect(result.closedAfterMs).toBeLessThan(1_000)
        expect(result.answer).toBe('')
      }
      // The twenty are still open, and that address gets nothing more; another address is served at once.
      expect(held.slice(0, 20).every((h) => !h.socket.destroyed)).toBe(true)
      expect(await healthFrom(t.url, SLOW_ADDRESS)).toBe('ECONNRESET')
      expect(await healthFrom(t.url, '127.0.0.1')).toBe(200)
      const warning = t.logs.map((line) => JSON.parse(line)).find((entry) => entry.msg?.startsWith('connections refused'))
      expect(warning).toMatchObject({ level: 'warn', remote: SLOW_ADDRESS, maxConnectionsPerIp: 20 })
      // The client lets five go: that address may connect again.
      for (const h of held.slice(0, 5)) h.socket.destroy()
      await Promise.all(held.slice(0, 5).map((h) => h.done))
      // The server counts them out when it sees them close, a moment after the client does.
      let again: number | string = 'not asked'
      for (const until = performance.now() + 2_000; again !== 200 && performance.now() < until; ) {
        again = await healthFrom(t.url, SLOW_ADDRESS)
        if (again !== 200) await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(again).toBe(200)
    } finally {
      for (const h of held) h.socket.destroy()
      await Promise.all(held.map((h) => h.done))
      await t.close()
    }
  })
})

describe('trustProxy', () => {
  it.each([
    [true, true],
    [1, false],
    [['10.0.0.0/8'], false],
  ])('trustProxy %j warns at startup that any client can forge X-Forwarded-For: %s', async (trustProxy, warned) => {
    const t = await startServer([], { trustProxy })
    try {
      const warning = t.logs.some((line) => line.includes('server.trustProxy is true'))
      expect(warning).toBe(warned)
    } finally {
      await t.close()
    }
  })
})
