// The raw relay of bench/relay's whole requests: bare Fastify (the kernel's own, logger off) forwarding a chat
// completion to the upstream as plugin-openai would send it (model gpt-bench; streamed with
// stream_options.include_usage) over a pooled keep-alive node:http agent, and passing the upstream's answer back
// unchanged, streamed or not. No SDK, no agent.
// Needs BENCH_UPSTREAM_URL. Listens on 127.0.0.1:0 and sends { port } to the parent over IPC.
import http from 'node:http'
import { createRequire } from 'node:module'
import { portOf, serveChild } from './child.mjs'

const require = createRequire(new URL('../../kernel/package.json', import.meta.url))
const { default: Fastify } = await import(require.resolve('fastify'))

const upstream = process.env.BENCH_UPSTREAM_URL
if (!upstream) throw new Error('fastify-relay needs BENCH_UPSTREAM_URL (the fake upstream, http://127.0.0.1:PORT)')
const target = new URL('/v1/chat/completions', upstream)
const agent = new http.Agent({ keepAlive: true })

const app = Fastify({ logger: false })
app.post('/:agent/chat/completions', (request, reply) => {
  const stream = request.body.stream === true
  const body = JSON.stringify({ model: 'gpt-bench', messages: request.body.messages, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) })
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
  reply.hijack()
  const raw = reply.raw
  const forward = http.request(target, { method: 'POST', agent, headers }, (answer) => {
    const head = { 'content-type': answer.headers['content-type'] }
    if (answer.headers['content-length']) head['content-length'] = answer.headers['content-length']
    raw.writeHead(answer.statusCode, head)
    answer.pipe(raw)
  })
  forward.on('error', () => raw.destroy())
  raw.on('close', () => forward.destroy())
  forward.end(body)
})

const address = await app.listen({ host: '127.0.0.1', port: 0 })
serveChild(portOf(address), async () => {
  await app.close()
  agent.destroy()
})
