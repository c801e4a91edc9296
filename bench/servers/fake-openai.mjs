// A fake OpenAI upstream that answers at once: node:http, keep-alive, any path. A streamed chat completion
// (`stream: true`) is a role chunk, the words of WORDS, a finish chunk, a usage chunk when
// `stream_options.include_usage`, then `data: [DONE]`; otherwise one chat.completion object.
// BENCH_UPSTREAM_CHUNK_DELAY_MS=<ms> holds a stream open: the role chunk goes out at once, every later event
// that long after the one before (unset: the whole stream at once). BENCH_UPSTREAM_CHUNKS=<n> sends n content chunks
// instead of the two words; BENCH_UPSTREAM_STAMP=1 makes each content chunk's text its send time (`t<epoch ms>`,
// performance.timeOrigin + now), written when it is sent, so a client can tell each chunk's delay through a relay.
// Over IPC, { cmd: 'stats' } answers { requests, streams, connections } since start.
// Listens on 127.0.0.1:0 and sends { port } to the parent over IPC; exits when the parent disconnects.
import { createServer } from 'node:http'
import { portOf, serveChild } from './child.mjs'

const CHUNKS = Number(process.env.BENCH_UPSTREAM_CHUNKS || 0)
const STAMP = process.env.BENCH_UPSTREAM_STAMP === '1'
const WORDS = CHUNKS > 0 ? Array.from({ length: CHUNKS }, (_, i) => (i === 0 ? 'w' : ' w')) : ['hello', ' world']
const CHUNK_DELAY_MS = Number(process.env.BENCH_UPSTREAM_CHUNK_DELAY_MS || 0)
const USAGE = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 }
let requests = 0
let streams = 0
let connections = 0
let counter = 0

function answer(req, res, raw) {
  requests++
  let body = {}
  try { body = JSON.parse(raw) } catch {}
  const id = `chatcmpl-fake${(++counter).toString(36)}`
  const created = Math.floor(Date.now() / 1000)
  const model = typeof body.model === 'string' ? body.model : 'gpt-bench'
  if (body.stream !== true) {
    const json = JSON.stringify({
      id, object: 'chat.completion', created, model,
      choices: [{ index: 0, message: { role: 'assistant', content: WORDS.join(''), refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: USAGE,
    })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) })
    res.end(json)
    return
  }
  streams++
  const head = `{"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"system_fingerprint":null,`
  const choice = (delta, finish) => `data: ${head}"choices":[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${finish ? `"${finish}"` : 'null'}}]}\n\n`
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
  res.write(choice({ role: 'assistant', content: '', refusal: null }, null))
  const rest = WORDS.map((word) => (STAMP ? () => choice({ content: `t${(performance.timeOrigin + performance.now()).toFixed(1)}` }, null) : choice({ content: word }, null)))
  rest.push(choice({}, 'stop'))
  if (body.stream_options?.include_usage) rest.push(`data: ${head}"choices":[],"usage":${JSON.stringify(USAGE)}}\n\n`)
  rest.push('data: [DONE]\n\n')
  if (CHUNK_DELAY_MS > 0) return paced(res, rest)
  for (let i = 0; i < rest.length - 1; i++) res.write(typeof rest[i] === 'function' ? rest[i]() : rest[i])
  res.end(rest.at(-1))
}

/** The events one CHUNK_DELAY_MS apart; stops when the client leaves. */
function paced(res, events) {
  let next = 0
  const timer = setInterval(() => {
    if (res.destroyed) return clearInterval(timer)
    if (next === events.length - 1) {
      clearInterval(timer)
      res.end(events[next])
    } else {
      const event = events[next++]
      res.write(typeof event === 'function' ? event() : event)
    }
  }, CHUNK_DELAY_MS)
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  let raw = ''
  req.setEncoding('utf8')
  req.on('data', (chunk) => { raw += chunk })
  req.on('end', () => answer(req, res, raw))
})
server.on('connection', () => { connections++ })
process.on('message', (message) => {
  if (message?.cmd === 'stats') process.send({ cmd: 'stats', requests, streams, connections })
})

server.listen(0, '127.0.0.1', () => {
  serveChild(server.address().port, () => {
    const closed = new Promise((resolve) => server.close(resolve))
    server.closeAllConnections()
    return closed
  })
})
