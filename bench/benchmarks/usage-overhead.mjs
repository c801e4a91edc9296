// usage-overhead: kernel-json with plugin-usage metering every call (in memory) against the same kernel without it;
// and what a budget checked in Redis adds to a request's latency (one connection, so the p50 is the request's own
// time, not a queue's): the same kernel metering with and without a budget counted in Redis (REDIS_URL, default
// the local one; keys under a prefix of the server's own).
import { fail, JSON_BODY, JSON_HEADERS, PATH } from '../answers.mjs'
import { closedLoop, keepAliveAgent, percentiles } from '../clients.mjs'
import { get, startServer, stopServer } from '../lib.mjs'
import { pairedRuns, runPaired } from '../overhead.mjs'
import { fmtMs } from '../report.mjs'

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const LATENCY_ROUNDS = 4
const LATENCY_SECONDS = 2

/** closedLoop's check: null when the answer is a 200. */
function answered({ status, text }) {
  return status === 200 ? null : `status ${status}: ${String(text).slice(0, 200)}`
}

export const usageOverhead = {
  id: 'usage-overhead',
  name: 'usage overhead',
  connections: 50,
  minRatio: 0.95,
  maxAddedP50Ms: 0.5,
  why: {
    'req/s': 'Why (when it misses): not profiled yet (bench/profile.mjs).',
    'added p50': 'Why (when it misses): one Lua script round trip to Redis before the loop (reserve), one per model call (settle) and one after (release); not profiled further yet.',
  },
  run: (context) => runUsage(usageOverhead, context),
  method: (context) =>
    `Usage overhead (usage-overhead): two kernels (bench/servers/kernel.mjs), the same but for @robutler/plugin-usage ` +
    `(prices for local/echo, records in memory, no budget) on one (checked first: its GET /usage answers 401 without a key, ` +
    `the other's 404); the kernel-overhead JSON load (${usageOverhead.connections} connections, ${pairedRuns('without', 'with', context)}) ` +
    `runs on each in turn; ratio: the mean req/s with over the mean without. Then a third kernel, metering with a budget ` +
    `on the echo agent counted in Redis (${REDIS_URL.replace(/\/\/[^@]*@/, '//')}): one connection, ${LATENCY_ROUNDS} rounds of ` +
    `${LATENCY_SECONDS} s on the metering kernel then on the budgeted one; added p50: the budgeted p50 of whole requests minus the metering one.`,
}

async function runUsage(bench, context) {
  const result = await runPaired(bench, setupPaired, context)
  result.rows.push(await budgetLatencyRow(bench, context))
  return result
}

async function setupPaired() {
  const plain = await startServer('kernel')
  let metered
  try {
    metered = await startServer('kernel', { env: { BENCH_KERNEL_USAGE: '1' } })
    const usage = await get(metered, '/usage')
    if (usage.status !== 401) fail(`GET /usage on the metering kernel answered ${usage.status}, not 401`)
    const none = await get(plain, '/usage')
    if (none.status !== 404) fail(`GET /usage on the plain kernel answered ${none.status}, not 404`)
  } catch (error) {
    if (metered) await stopServer(metered)
    await stopServer(plain)
    throw error
  }
  return {
    base: { label: 'without', server: plain, path: PATH, headers: {} },
    subject: { label: 'with usage metering', server: metered, path: PATH, headers: {} },
    cleanup: async () => {
      await stopServer(metered)
      await stopServer(plain)
    },
  }
}

async function budgetLatencyRow(bench, context) {
  const metered = await startServer('kernel', { env: { BENCH_KERNEL_USAGE: '1' } })
  let budgeted
  const samples = { metered: [], budgeted: [] }
  try {
    budgeted = await startServer('kernel', { env: { BENCH_KERNEL_USAGE_REDIS: REDIS_URL } })
    context.write(`${bench.name}, budget latency:`)
    const sides = { metered, budgeted }
    const agents = { metered: keepAliveAgent(1), budgeted: keepAliveAgent(1) }
    try {
      for (const [key, server] of Object.entries(sides)) {
        await closedLoop({ url: `${server.url}${PATH}`, headers: JSON_HEADERS, body: JSON_BODY, connections: 1, duration: context.warmup, check: answered, agent: agents[key] })
      }
      for (let round = 0; round < LATENCY_ROUNDS; round++) {
        for (const [key, server] of Object.entries(sides)) {
          const r = await closedLoop({ url: `${server.url}${PATH}`, headers: JSON_HEADERS, body: JSON_BODY, connections: 1, duration: LATENCY_SECONDS, check: answered, agent: agents[key] })
          if (r.failures) fail(`${key}: ${r.failures} failed requests, first: ${r.firstFailure}`)
          samples[key] = samples[key].concat(r.total)
        }
        context.write('.')
      }
    } finally {
      for (const agent of Object.values(agents)) agent.destroy()
    }
    context.write('\n')
  } finally {
    if (budgeted) await stopServer(budgeted)
    await stopServer(metered)
  }
  const base = percentiles(samples.metered).p50
  const with_ = percentiles(samples.budgeted).p50
  const added = with_ - base
  return {
    bench: bench.name,
    metric: `added p50, a budget checked in Redis (${fmtMs(with_)} ms, ${samples.budgeted.length} requests)`,
    figure: `${added >= 0 ? '+' : ''}${fmtMs(added)} ms`,
    baseline: `${fmtMs(base)} ms metering without a budget (${samples.metered.length} requests)`,
    ratio: `${(with_ / base).toFixed(2)}×`,
    budget: `≤ +${bench.maxAddedP50Ms} ms`,
    result: added <= bench.maxAddedP50Ms ? 'PASS' : 'MISS',
  }
}
