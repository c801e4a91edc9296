// responses-surface: the Responses API surface (plugin-responses) against Chat Completions on the same kernel and
// echo agent, in the same run: whole answers stored in memory under autocannon (req/s), the time to first byte of
// streamed answers on one connection (p50), and what storing in PostgreSQL adds to a whole answer's latency (p50,
// one connection, against the same kernel storing in memory).
import pg from 'pg'
import { keepAliveAgent } from '../clients.mjs'
import { fail, shape } from '../answers.mjs'
import { startServer, stopServer } from '../lib.mjs'
import { alternate, cpuRow, DETAIL_COLUMNS, pairedSeconds, ratioRow } from '../overhead.mjs'
import { addedRow, CHAT_BODY, CHAT_STREAM, checkChat, FIFTY_WORDS, loopRuns, ORDER } from '../surfaces.mjs'

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'
const RESPONSES_BODY = JSON.stringify({ model: 'echo', input: 'hello world' })
const RESPONSES_STREAM = JSON.stringify({ model: 'echo', stream: true, input: FIFTY_WORDS })

function checkResponse({ status, text }) {
  if (status !== 200) fail(`responses: status ${status}: ${text.slice(0, 200)}`)
  const body = JSON.parse(text)
  if (body.status !== 'completed' || body.output?.[0]?.content?.[0]?.text !== 'hello world') fail(`responses: unexpected body ${text.slice(0, 200)}`)
  return shape(body)
}

function wholeCheck({ status, text }) {
  return status === 200 && text.includes('"status":"completed"') ? null : `status ${status}: ${text.slice(0, 200)}`
}

function streamCheck(end) {
  return ({ status, text }) => {
    if (status !== 200) return `status ${status}: ${text.slice(0, 200)}`
    return text.includes(end) ? null : `the stream has no ${end}: …${text.slice(-120)}`
  }
}

export const responsesSurface = {
  id: 'responses-surface',
  name: 'Responses API surface',
  connections: 50,
  minRatio: 0.8,
  maxAddedTtfbMs: 1,
  maxStoreMs: 2,
  why: {
    'req/s':
      "Why (when it misses): the surface's own work per request over chat's: the field-by-field check of the body, items to " +
      "messages and back to output items, a larger answer, and storing the response (its JSON size for the memory store's bound).",
  },
  run: (context) => runResponses(context),
  method: (context) =>
    `Responses API surface (responses-surface): one kernel (bench/servers/kernel.mjs with BENCH_KERNEL_RESPONSES=1: plugin-local, ` +
    `plugin-responses storing in memory, the echo agent). req/s: autocannon, ${responsesSurface.connections} connections, ` +
    `POST /chat/completions and POST /responses (stored) of 'hello world', in the order chat, responses, chat, responses, chat, ` +
    `each ${context.warmup} s warm-up then ${pairedSeconds(context)} s; ratio of the means. TTFB: one keep-alive connection, closed loop, ` +
    `streamed answers of 50 words, same order and times; p50 of responses minus p50 of chat. PostgreSQL: a second kernel storing in ` +
    `PostgreSQL (DATABASE_URL, throwaway tables), one connection, closed loop of whole POST /responses; its p50 latency minus the memory kernel's.`,
}

async function dropTables(prefix) {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    for (const suffix of ['', '_events', '_conversations', '_items']) await client.query(`DROP TABLE IF EXISTS ${prefix}${suffix}`)
  } finally {
    await client.end()
  }
}

async function runResponses(context) {
  const server = await startServer('kernel', { env: { BENCH_KERNEL_RESPONSES: '1' } })
  const prefix = `bench_responses_${process.pid}`
  let measured
  let ttfb
  let store
  try {
    const sides = {
      base: { label: 'chat', server, path: '/chat/completions', body: CHAT_BODY, headers: {}, check: checkChat },
      subject: { label: 'responses', server, path: '/responses', body: RESPONSES_BODY, headers: {}, check: checkResponse },
    }
    context.write(`${responsesSurface.name}:`)
    measured = await alternate(responsesSurface, sides, ORDER, pairedSeconds(context), context)
    const agent = keepAliveAgent(1)
    try {
      ttfb = await loopRuns(
        {
          base: { label: 'chat stream', url: `${server.url}/chat/completions`, body: CHAT_STREAM, check: streamCheck('data: [DONE]') },
          subject: { label: 'responses stream', url: `${server.url}/responses`, body: RESPONSES_STREAM, check: streamCheck('"response.completed"') },
        },
        context,
        agent,
      )
    } finally {
      agent.destroy()
    }
    const pgServer = await startServer('kernel', {
      env: { BENCH_KERNEL_RESPONSES: '1', BENCH_KERNEL_RESPONSES_DATABASE: DATABASE_URL, BENCH_KERNEL_RESPONSES_PREFIX: prefix },
    })
    const storeAgent = keepAliveAgent(2)
    try {
      store = await loopRuns(
        {
          base: { label: 'memory', url: `${server.url}/responses`, body: RESPONSES_BODY, check: wholeCheck, total: true },
          subject: { label: 'postgres', url: `${pgServer.url}/responses`, body: RESPONSES_BODY, check: wholeCheck, total: true },
        },
        context,
        storeAgent,
      )
    } finally {
      storeAgent.destroy()
      await stopServer(pgServer)
    }
    context.write('\n')
  } finally {
    await stopServer(server)
    await dropTables(prefix).catch(() => undefined)
  }
  const { runs, details } = measured
  const rows = [
    ratioRow(responsesSurface, 'req/s, POST /responses (stored in memory) ÷ POST /chat/completions', runs.subject, runs.base, responsesSurface.minRatio),
    ...cpuRow(responsesSurface, runs.subject, runs.base),
    addedRow(responsesSurface, 'streamed TTFB p50, added over chat', ttfb, responsesSurface.maxAddedTtfbMs),
    addedRow(responsesSurface, 'whole response p50, stored in PostgreSQL over memory', store, responsesSurface.maxStoreMs),
  ]
  return { rows, tables: [{ key: 'overhead', columns: DETAIL_COLUMNS, rows: details }], notes: [] }
}
