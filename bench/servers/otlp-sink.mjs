// An OTLP/HTTP endpoint for the tracing benchmarks, in a process of its own (so receiving the spans never costs the
// load generator): answers every POST 200 and counts the exports and their bytes; GET /count answers the counts.
import { createServer } from 'node:http'
import { serveChild } from './child.mjs'

const counts = { exports: 0, bytes: 0 }
const server = createServer((req, res) => {
  if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counts))
  req.on('data', (chunk) => void (counts.bytes += chunk.length))
  req.on('end', () => {
    counts.exports++
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
  })
})
server.listen(0, '127.0.0.1', () => {
  serveChild(server.address().port, () => new Promise((resolve) => {
    server.closeAllConnections()
    server.close(resolve)
  }))
})
