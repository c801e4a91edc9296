// messages-surface: the Anthropic Messages API surface (plugin-messages) against Chat Completions on the same kernel
// and the same echo agent, in the same run: whole answers under autocannon (req/s), and the time to first byte of
// streamed answers on one connection (p50).
import { keepAliveAgent } from '../clients.mjs'
import { fail, shape } from '../answers.mjs'
import { startServer, stopServer } from '../lib.mjs'
import { alternate, cpuRow, DETAIL_COLUMNS, pairedSeconds, ratioRow } from '../overhead.mjs'
import { addedRow, CHAT_BODY, CHAT_STREAM, checkChat, FIFTY_WORDS, loopRuns, ORDER } from '../surfaces.mjs'

const MESSAGES_BODY = JSON.stringify({ model: 'echo', max_tokens: 64, messages: [{ role: 'user', content: 'hello world' }] })
const MESSAGES_STREAM = JSON.stringify({ model: 'echo', max_tokens: 64, stream: true, messages: [{ role: 'user', content: FIFTY_WORDS }] })

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
  const agent = keepAliveAgent(1)
  try {
    return await loopRuns(
      {
        base: { label: 'chat stream', url: `${server.url}/chat/completions`, body: CHAT_STREAM, check: streamCheck('data: [DONE]') },
        subject: { label: 'messages stream', url: `${server.url}/v1/messages`, body: MESSAGES_STREAM, check: streamCheck('data: {"type":"message_stop"}') },
      },
      context,
      agent,
    )
  } finally {
    agent.destroy()
  }
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
  const rows = [
    ratioRow(messagesSurface, 'req/s, POST /v1/messages ÷ POST /chat/completions', runs.subject, runs.base, messagesSurface.minRatio),
    ...cpuRow(messagesSurface, runs.subject, runs.base),
    addedRow(messagesSurface, 'streamed TTFB p50, added over chat', ttfb, messagesSurface.maxAddedTtfbMs),
  ]
  return { rows, tables: [{ key: 'overhead', columns: DETAIL_COLUMNS, rows: details }], notes: [] }
}
