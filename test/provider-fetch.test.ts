// createProviderFetch: the fetch that provider plugins hand their SDKs, against a real node:http server.
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createProviderFetch, nodeBody, type ProviderFetch } from '@robutler/kernel'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runModuleScript } from './helpers/cli-process.js'

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void

describe('createProviderFetch', () => {
  let server: Server
  let base: string
  let handler: Handler = () => {}
  const sockets = new Set<Socket>()
  let connections = 0
  let upstream: ProviderFetch

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (part: string) => (body += part))
      req.on('end', () => handler(req, body, res))
    })
    server.on('connection', (socket: Socket) => {
      connections++
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    upstream = createProviderFetch()
  })
  afterAll(async () => {
    upstream.close()
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })

  it('nodeBody hands over the node stream under its Response once, and not once the web body was read', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('data: 1\n\n')
      setTimeout(() => res.end('data: [DONE]\n\n'), 10)
    }
    const first = await upstream.fetch(`${base}/v1/stream`, { method: 'POST', body: '{}' })
    const res = nodeBody(first)
    expect(res).not.toBeNull()
    expect(nodeBody(first)).toBeNull()
    let text = ''
    for await (const piece of res!) text += piece
    expect(text).toBe('data: 1\n\ndata: [DONE]\n\n')

    // The web body read first: it has the bytes, nodeBody nothing.
    const second = await upstream.fetch(`${base}/v1/stream`, { method: 'POST', body: '{}' })
    expect(await second.text()).toBe('data: 1\n\ndata: [DONE]\n\n')
    expect(nodeBody(second)).toBeNull()
    // Any other Response has none.
    expect(nodeBody(new Response('x'))).toBeNull()
  })

  it('sends method, headers and body; answers status, every header (repeated ones too) and the body', async () => {
    handler = (req, body, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2'])
      res.writeHead(201, { 'content-type': 'application/json', 'x-seen': `${req.method} ${req.headers['x-api-key']} ${body}` })
      res.end('{"ok":true}')
    }
    const res = await upstream.fetch(`${base}/v1/things`, { method: 'POST', headers: { 'x-api-key': 'k1', 'content-type': 'application/json' }, body: '{"q":1}' })
    expect(res.status).toBe(201)
    expect(res.headers.get('x-seen')).toBe('POST k1 {"q":1}')
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(await res.json()).toEqual({ ok: true })
  })

  it('keeps the connection alive between calls', async () => {
    handler = (_req, _body, res) => res.end('x')
    await (await upstream.fetch(`${base}/one`)).text()
    const before = connections
    await (await upstream.fetch(`${base}/two`)).text()
    await (await upstream.fetch(`${base}/three`)).text()
    expect(connections).toBe(before)
  })

  it('gives a 204 no body', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(204)
      res.end()
    }
    const res = await upstream.fetch(`${base}/empty`, { method: 'DELETE' })
    expect(res.status).toBe(204)
    expect(res.body).toBeNull()
  })

  it('an abort before the answer rejects with an AbortError', async () => {
    handler = () => {} // never answers
    const controller = new AbortController()
    const pending = upstream.fetch(`${base}/stall`, { signal: controller.signal })
    setTimeout(() => controller.abort(), 20)
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    await expect(upstream.fetch(`${base}/stall`, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('an abort during the body ends the body with an AbortError and closes the connection', async () => {
    let closed = false
    handler = (_req, _body, res) => {
      res.on('close', () => (closed = !res.writableFinished))
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('data: 1\n\n') // and nothing more: a stream held open
    }
    const controller = new AbortController()
    const res = await upstream.fetch(`${base}/stream`, { signal: controller.signal })
    const reader = res.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: 1\n\n')
    controller.abort()
    await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' })
    await expect.poll(() => closed).toBe(true)
  })

  it('a refused connection rejects with the socket error code', async () => {
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as AddressInfo).port
    await new Promise((resolve) => probe.close(resolve))
    await expect(upstream.fetch(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })

  it('a body it does not send itself (a stream) goes through the global fetch', async () => {
    handler = (_req, body, res) => res.end(`got ${body}`)
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'))
        controller.close()
      },
    })
    const res = await upstream.fetch(`${base}/upload`, { method: 'POST', body, duplex: 'half' } as RequestInit)
    expect(await res.text()).toBe('got streamed')
  })
})

describe('createProviderFetch over https', () => {
  // A self-signed certificate for 127.0.0.1 (test/fixtures/tls, valid until 2126).
  const certPath = fileURLToPath(new URL('./fixtures/tls/localhost-cert.pem', import.meta.url))
  const keyPath = fileURLToPath(new URL('./fixtures/tls/localhost-key.pem', import.meta.url))
  let server: ReturnType<typeof createHttpsServer>
  let base: string
  let connections = 0
  const seen: string[] = []

  beforeAll(async () => {
    server = createHttpsServer({ cert: readFileSync(certPath), key: readFileSync(keyPath), keepAliveTimeout: 10_000 }, (req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`)
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('data: 1\n\n')
      setTimeout(() => res.end('data: [DONE]\n\n'), 20)
    })
    server.on('secureConnection', () => connections++)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it('verifies the certificate: one no CA vouches for is refused before any request goes out', async () => {
    const upstream = createProviderFetch()
    try {
      await expect(upstream.fetch(`${base}/v1/models`, { headers: { authorization: 'Bearer sk-secret' } })).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })
      expect(seen).toEqual([])
    } finally {
      upstream.close()
    }
  })

  it('trusts what Node trusts (NODE_EXTRA_CA_CERTS) and keeps one TLS connection across calls', async () => {
    // NODE_EXTRA_CA_CERTS is read at process start: the calls run in a child process that has it.
    const script = `
      import { createProviderFetch } from '@robutler/kernel'
      const upstream = createProviderFetch()
      const texts = []
      for (const path of ['/one', '/two']) {
        const res = await upstream.fetch(process.env.BASE + path, { method: 'POST', headers: { authorization: 'Bearer sk-1' }, body: '{}' })
        texts.push(res.status + ' ' + (await res.text()))
      }
      upstream.close()
      console.log(JSON.stringify(texts))
    `
    const before = connections
    const stdout = await runModuleScript(script, { ...process.env, NODE_EXTRA_CA_CERTS: certPath, BASE: base })
    expect(JSON.parse(stdout)).toEqual(['200 data: 1\n\ndata: [DONE]\n\n', '200 data: 1\n\ndata: [DONE]\n\n'])
    expect(seen.slice(-2)).toEqual(['POST /one Bearer sk-1', 'POST /two Bearer sk-1'])
    expect(connections - before).toBe(1)
  })
})
