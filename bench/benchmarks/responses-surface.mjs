// responses-surface: the Responses API surface (plugin-responses) against Chat Completions on the same kernel and
// echo agent, in the same run: whole answers stored in memory under autocannon (req/s), the time to first byte of
// streamed answers on one connection (p50), and what storing in PostgreSQL adds to a whole answer's latency (p50,
// one connection, against the same kernel storing in memory).
import pg from 'pg'
import { keepAliveAgent, closedLoop, percentiles } from '../clients.mjs'
import { fail, shape } from '../answers.mjs'
import { startServer, stopServer } from '../lib.mjs'
import { alternate, cpuRow, DETAIL_COLUMNS, pairedSeconds, ratioRow } from '../overhead.mjs'
import { fmtMs } from '../report.mjs'

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'
const CHAT_BODY = JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'hello world' }] })
const RESPONSES_BODY = JSON.stringify({ model: 'echo', input: 'hello world' })
const FIFTY_WORDS = Array.from({ length: 50 }, (_, i) => `word${i}`).join(' ')
const CHAT_STREAM = JSON.stringify({ model: 'echo', stream: true, messages: [{ role: 'user', content: FIFTY_WORDS }] })
const RESPONSES_STREAM = JSON.stringify({ model: 'echo', stream: true, input: FIFTY_WORDS })
const ORDER = ['base', 'subject', 'base', 'subject', 'base']

function checkChat({ status, text }) {
  if (status !== 200) fail(`chat: status ${status}: ${text.slice(0, 200)}`)
  const body = JSON.parse(text)
  if (body.choices?.[0]?.message?.content !== 'hello world') fail(`chat: unexpected body ${text.slice(0, 200)}`)
  return shape(body)
}

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

async function loopRuns(sides, context, agent) {
  const samples = { base: [], subject: [] }
  for (const key of ORDER) {
    const side = sides[key]
    const options = { url: side.url, body: side.body, headers: { 'content-type': 'application/json' }, connections: 1, check: side.check, agent }
    await closedLoop({ ...options, duration: context.warmup })
    const run = await closedLoop({ ...options, duration: pairedSeconds(context) })
    if (run.failures > 0) fail(`${side.label}: ${run.failures} failures, first: ${run.firstFailure}`)
    samples[key].push(...(side.total ? run.total : run.ttfb))
    context.write(` ${side.label} p50 ${fmtMs(percentiles(side.total ? run.total : run.ttfb).p50)} ms`)
  }
  return { base: percentiles(samples.base), subject: percentiles(samples.subject) }
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
  const added = ttfb.subject.p50 - ttfb.base.p50
  const stored = store.subject.p50 - store.base.p50
  const rows = [
    ratioRow(responsesSurface, 'req/s, POST /responses (stored in memory) ÷ POST /chat/completions', runs.subject, runs.base, responsesSurface.minRatio),
    ...cpuRow(responsesSurface, runs.subject, runs.base),
    {
      bench: responsesSurface.name,
      metric: 'streamed TTFB p50, added over chat',
      figure: `${fmtMs(ttfb.subject.p50)} ms (p90 ${fmtMs(ttfb.subject.p90)}, n ${ttfb.subject.n})`,
      baseline: `${fmtMs(ttfb.base.p50)} ms (p90 ${fmtMs(ttfb.base.p90)}, n ${ttfb.base.n})`,
      ratio: `${added >= 0 ? '+' : ''}${fmtMs(added)} ms`,
      budget: `≤ ${responsesSurface.maxAddedTtfbMs} ms`,
      result: added <= responsesSurface.maxAddedTtfbMs ? 'PASS' : 'MISS',
    },
    {
      bench: responsesSurface.name,
      metric: 'whole response p50, stored in PostgreSQL over memory',
      figure: `${fmtMs(store.subject.p50)} ms (p90 ${fmtMs(store.subject.p90)}, n ${store.subject.n})`,
      baseline: `${fmtMs(store.base.p50)} ms (p90 ${fmtMs(store.base.p90)}, n ${store.base.n})`,
      ratio: `${stored >= 0 ? '+' : ''}${fmtMs(stored)} ms`,
      budget: `≤ ${responsesSurface.maxStoreMs} ms`,
      result: stored <= responsesSurface.maxStoreMs ? 'PASS' : 'MISS',
    },
  ]
  return { rows, tables: [{ key: 'overhead', columns: DETAIL_COLUMNS, rows: details }], notes: [] }
}
