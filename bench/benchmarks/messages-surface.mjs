// messages-surface: the Anthropic Messages API surface (plugin-messages) against Chat Completions on the same kernel
// and the same echo agent, in the same run: whole answers under autocannon (req/s), and the time to first byte of
// streamed answers on one connection (p50).
import { keepAliveAgent, closedLoop, percentiles } from '../clients.mjs'
import { fail, shape } from '../answers.mjs'
import { startServer, stopServer } from '../lib.mjs'
import { alternate, cpuRow, DETAIL_COLUMNS, pairedSeconds, ratioRow } from '../overhead.mjs'
import { fmtMs } from '../report.mjs'

const MESSAGES = { role: 'user', content: 'hello world' }
const CHAT_BODY = JSON.stringify({ model: 'echo', messages: [MESSAGES] })
const MESSAGES_BODY = JSON.stringify({ model: 'echo', max_tokens: 64, messages: [MESSAGES] })
const FIFTY_WORDS = Array.from({ length: 50 }, (_, i) => `word${i}`).join(' ')
const CHAT_STREAM = JSON.stringify({ model: 'echo', stream: true, messages: [{ role: 'user', content: FIFTY_WORDS }] })
const MESSAGES_STREAM = JSON.stringify({ model: 'echo', max_tokens: 64, stream: true, messages: [{ role: 'user', content: FIFTY_WORDS }] })
const ORDER = ['base', 'subject', 'base', 'subject', 'base']

function checkChat({ status, text }) {
  if (status !== 200) fail(`chat: status ${status}: ${text.slice(0, 200)}`)
  const body = JSON.parse(text)
  if (body.choices?.[0]?.message?.content !== 'hello world') fail(`chat: unexpected body ${text.slice(0, 200)}`)
  return shape(body)
}

function checkMessage({ status, text }) {
  if (status !== 200) fail(`messages: status ${status}: ${text.slice(0, 200)}`)
  const body = JSON.parse(text)
  if (body.type !== 'message' || body.content?.[0]?.text !== 'hello world') fail(`messages: unexpected body ${text.slice(0, 200)}`)
  return shape(body)
}

/** A whole stream of either protocol: 200, event-stream, its last frame the protocol's end. */
function streamCheck(end) {
  return ({ status, text }) => {
    if (status !== 200) return `status ${status}: ${text.slice(0, 200)}`
    return text.trimEnd().endsWith(end) ? null : `the stream does not end with ${end}: …${text.slice(-120)}`
  }
}

export const messagesSurface = {
  id: 'messages-surface',
  name: 'Messages API surface',
  connections: 50,
  minRatio: 0.8,
  maxAddedTtfbMs: 1,
  why: {
    'req/s':
      "Why (when it misses): the surface's own work per request over chat's: ajv's check of the Messages body, the mapping " +
      'to chat messages and back to content blocks, a larger answer (usage with cache fields, citations); compare ' +
      "'server CPU µs/req' of both sides.",
  },
  run: (context) => runMessages(context),
  method: (context) =>
    `Messages API surface (messages-surface): one kernel (bench/servers/kernel.mjs with BENCH_KERNEL_MESSAGES=1: plugin-local, ` +
    `plugin-messages, the echo agent), both protocols on their base-URL routes with the agent as model. req/s: autocannon, ` +
    `${messagesSurface.connections} connections, POST /chat/completions and POST /v1/messages (max_tokens 64) of 'hello world', ` +
    `in the order chat, messages, chat, messages, chat, each ${context.warmup} s warm-up then ${pairedSeconds(context)} s; ratio of the means. ` +
    `TTFB: one keep-alive connection, closed loop, streamed answers of 50 words, same order and times; every sample of a side pooled, ` +
    `p50 of messages minus p50 of chat.`,
}

async function ttfbRuns(server, context) {
  const sides = {
    base: { url: `${server.url}/chat/completions`, body: CHAT_STREAM, check: streamCheck('data: [DONE]') },
    subject: { url: `${server.url}/v1/messages`, body: MESSAGES_STREAM, check: streamCheck('data: {"type":"message_stop"}') },
  }
  const samples = { base: [], subject: [] }
  const agent = keepAliveAgent(1)
  try {
    for (const key of ORDER) {
      const side = sides[key]
      const options = { url: side.url, body: side.body, headers: { 'content-type': 'application/json' }, connections: 1, check: side.check, agent }
      await closedLoop({ ...options, duration: context.warmup })
      const run = await closedLoop({ ...options, duration: pairedSeconds(context) })
      if (run.failures > 0) fail(`${key} stream: ${run.failures} failures, first: ${run.firstFailure}`)
      samples[key].push(...run.ttfb)
      context.write(` ${key === 'base' ? 'chat' : 'messages'} stream p50 ${fmtMs(percentiles(run.ttfb).p50)} ms`)
    }
  } finally {
    agent.destroy()
  }
  return { chat: percentiles(samples.base), messages: percentiles(samples.subject) }
}

async function runMessages(context) {
  const server = await startServer('kernel', { env: { BENCH_KERNEL_MESSAGES: '1' } })
  let measured
  let ttfb
  try {
    const sides = {
      base: { label: 'chat', server, path: '/chat/completions', body: CHAT_BODY, headers: {}, check: checkChat },
      subject: { label: 'messages', server, path: '/v1/messages', body: MESSAGES_BODY, headers: {}, check: checkMessage },
    }
    context.write(`${messagesSurface.name}:`)
    measured = await alternate(messagesSurface, sides, ORDER, pairedSeconds(context), context)
    ttfb = await ttfbRuns(server, context)
    context.write('\n')
  } finally {
    await stopServer(server)
  }
  const { runs, details } = measured
  const added = ttfb.messages.p50 - ttfb.chat.p50
  const rows = [
    ratioRow(messagesSurface, 'req/s, POST /v1/messages ÷ POST /chat/completions', runs.subject, runs.base, messagesSurface.minRatio),
    ...cpuRow(messagesSurface, runs.subject, runs.base),
    {
      bench: messagesSurface.name,
      metric: 'streamed TTFB p50, added over chat',
      figure: `${fmtMs(ttfb.messages.p50)} ms (p90 ${fmtMs(ttfb.messages.p90)}, n ${ttfb.messages.n})`,
      baseline: `${fmtMs(ttfb.chat.p50)} ms (p90 ${fmtMs(ttfb.chat.p90)}, n ${ttfb.chat.n})`,
      ratio: `${added >= 0 ? '+' : ''}${fmtMs(added)} ms`,
      budget: `≤ ${messagesSurface.maxAddedTtfbMs} ms`,
      result: added <= messagesSurface.maxAddedTtfbMs ? 'PASS' : 'MISS',
    },
  ]
  return { rows, tables: [{ key: 'overhead', columns: DETAIL_COLUMNS, rows: details }], notes: [] }
}
