// The baseline: bare Fastify (the kernel's own fastify package, logger off) answering the same routes with the
// same bodies the kernel sends for local/echo — parse the request, build the OpenAI objects, reply.
// BENCH_CHUNK_DELAY_MS=<ms> sleeps that long before each streamed delta, as plugin-local { chunkDelayMs } does
// (slow streams that stay open; unset: none, every chunk is written at once).
// Listens on 127.0.0.1:0 and sends { port } to the parent over IPC; exits when the parent disconnects.
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import { portOf, serveChild } from './child.mjs'

// Resolve fastify from the kernel package, so both sides run the very same fastify.
const require = createRequire(new URL('../../kernel/package.json', import.meta.url))
const { default: Fastify } = await import(require.resolve('fastify'))

// Ids: a random per-process prefix and a counter (unique, and cheap: the baseline does the least work it can).
const ID_PREFIX = `chatcmpl-${randomBytes(6).toString('hex')}`
const CHUNK_DELAY_MS = Number(process.env.BENCH_CHUNK_DELAY_MS || 0)
let idCounter = 0

const SPACE = /\s/
function lastUserText(messages) {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') return typeof messages[i].content === 'string' ? messages[i].content : ''
  }
  return ''
}
function countWords(text) {
  let words = 0
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const space = SPACE.test(text[i])
    if (!space && !inWord) words++
    inWord = !space
  }
  return words
}
/** One word plus the whitespace after it, like plugin-local's stream chunks. */
function wordChunks(text) {
  return text.match(/\s*\S+\s*/g) ?? []
}

// BENCH_BASELINE_BURN_US=<µs>: each chat request first busy-waits that long on the main thread (kernel-json's
// calibration: what a known amount of added work costs in this harness).
const BURN_NS = BigInt(Math.round(Number(process.env.BENCH_BASELINE_BURN_US || 0) * 1000))

const app = Fastify({ logger: false })

app.post('/:agent/chat/completions', async (request, reply) => {
  if (BURN_NS > 0n) for (const until = process.hrtime.bigint() + BURN_NS; process.hrtime.bigint() < until;);
  const body = request.body
  const text = lastUserText(body.messages)
  const id = `${ID_PREFIX}${(++idCounter).toString(36)}`
  const created = Math.floor(Date.now() / 1000)
  const model = 'local/echo'
  if (body.stream !== true) {
    const completion = countWords(text)
    let prompt = 0
    for (const message of body.messages) prompt += countWords(typeof message.content === 'string' ? message.content : '')
    return {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
      system_fingerprint: null,
    }
  }
  reply.hijack()
  const raw = reply.raw
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  })
  const chunk = (delta, finish) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  })
  raw.write(`data: ${JSON.stringify(chunk({ role: 'assistant', content: '' }, null))}\n\n`)
  if (CHUNK_DELAY_MS > 0) return slowStream(raw, text, chunk)
  for (const word of wordChunks(text)) raw.write(`data: ${JSON.stringify(chunk({ content: word }, null))}\n\n`)
  raw.write(`data: ${JSON.stringify(chunk({}, 'stop'))}\n\n`)
  raw.end('data: [DONE]\n\n')
})

/** The same stream, CHUNK_DELAY_MS before each delta (the words, then the finish); stops when the client leaves. */
async function slowStream(raw, text, chunk) {
  let gone = false
  raw.once('close', () => { gone = true })
  for (const word of wordChunks(text)) {
    await sleep(CHUNK_DELAY_MS)
    if (gone) return
    raw.write(`data: ${JSON.stringify(chunk({ content: word }, null))}\n\n`)
  }
  await sleep(CHUNK_DELAY_MS)
  if (gone) return
  raw.write(`data: ${JSON.stringify(chunk({}, 'stop'))}\n\n`)
  raw.end('data: [DONE]\n\n')
}

const address = await app.listen({ host: '127.0.0.1', port: 0 })
serveChild(portOf(address), () => app.close())
