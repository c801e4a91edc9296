// What any proxy hop costs, for provider-ttfb: node:http (no Fastify, no SDK) forwarding a chat completion to the
// upstream over keep-alive sockets as plugin-openai would send it (model gpt-bench, stream_options.include_usage)
// and piping the upstream's bytes back unchanged.
// Needs BENCH_UPSTREAM_URL. Listens on 127.0.0.1:0 and sends { port } to the parent over IPC.
import http from 'node:http'
import { serveChild } from './child.mjs'

const upstream = process.env.BENCH_UPSTREAM_URL
if (!upstream) throw new Error('pass-through needs BENCH_UPSTREAM_URL (the fake upstream, http://127.0.0.1:PORT)')
const target = new URL('/v1/chat/completions', upstream)
const agent = new http.Agent({ keepAlive: true })

const server = http.createServer((req, res) => {
  let raw = ''
  req.setEncoding('utf8')
  req.on('data', (chunk) => { raw += chunk })
  req.on('end', () => {
    const { messages } = JSON.parse(raw)
    const body = JSON.stringify({ model: 'gpt-bench', messages, stream: true, stream_options: { include_usage: true } })
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
    const forward = http.request(target, { method: 'POST', agent, headers }, (answer) => {
      res.writeHead(answer.statusCode, { 'content-type': answer.headers['content-type'], 'cache-control': 'no-cache' })
      answer.pipe(res)
    })
    forward.on('error', () => res.destroy())
    res.on('close', () => forward.destroy())
    forward.end(body)
  })
})

server.listen(0, '127.0.0.1', () => {
  serveChild(server.address().port, () => {
    const closed = new Promise((resolve) => server.close(resolve))
    server.closeAllConnections()
    agent.destroy()
    return closed
  })
})
