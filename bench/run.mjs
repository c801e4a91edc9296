#!/usr/bin/env node
// Robutler benchmarks. A report, not a test: a missed budget is printed as MISS and the exit code stays 0 (it is 1
// only when a benchmark could not run at all). Every row shows the figure, its baseline from the same run, the
// ratio, the budget and PASS/MISS (or 'info' for figures without a budget).
//   kernel-json, kernel-stream   the kernel against bare Fastify serving the same bytes (autocannon)
//   worker-offload               /health latency and event-loop delay while 20 chats run 50 ms CPU tools:
//                                worker pool (1 thread) against the same tools on the main thread
//   provider-ttfb                time to first byte of streamed completions through plugin-openai against the
//                                same fake upstream hit directly, 50 concurrent streams
//   node bench/run.mjs [filter]      filter: a case-insensitive part of a benchmark's id or name
//   BENCH_DURATION=10                seconds each measurement lasts (warm-up: 2 s more per server)
// Where the kernel spends its time: node bench/profile.mjs [json|stream] [kernel|baseline] (--cpu-prof summary).
import { writeFileSync } from 'node:fs'
import { availableParallelism, cpus } from 'node:os'
import { join } from 'node:path'
import {
  ask,
  BENCH_DIR,
  closedLoop,
  cpuWindow,
  keepAliveAgent,
  linkedApp,
  load,
  percentiles,
  probe,
  probeLoop,
  startServer,
  stopServer,
  timedRequest,
} from './lib.mjs'

const WARMUP_SECONDS = 2
/** Other work on the machine above this share of a core during a measurement makes its figures suspect. */
const NOISY = 0.3
const duration = Number(process.env.BENCH_DURATION ?? 10)
if (!Number.isFinite(duration) || duration <= 0) {
  console.error(`BENCH_DURATION must be a positive number of seconds, got '${process.env.BENCH_DURATION}'`)
  process.exit(2)
}

const PATH = '/echo/chat/completions'
const FIFTY_WORDS = Array.from({ length: 50 }, (_, i) => `word${i}`).join(' ')

function fail(message) {
  throw new Error(message)
}

/** A value's shape: its keys and value types, recursively (ids, times and texts may differ). */
function shape(value) {
  if (Array.isArray(value)) return `[${value.map(shape).join(',')}]`
  if (value && typeof value === 'object') return `{${Object.keys(value).sort().map((k) => `${k}:${shape(value[k])}`).join(',')}}`
  return value === null ? 'null' : typeof value
}

/**
 * The kernel's and the baseline's answers must be right, and of the same shape, before their speeds are
 * compared; each check returns the answer's shape, which runBenchmark compares across the two servers.
 */
function checkJson({ status, text }) {
  if (status !== 200) fail(`status ${status}: ${text.slice(0, 200)}`)
  const body = JSON.parse(text)
  if (body.object !== 'chat.completion' || body.choices?.[0]?.message?.content !== 'hello world') {
    fail(`unexpected body: ${text.slice(0, 200)}`)
  }
  return shape(body)
}

function checkStream({ status, headers, text }) {
  if (status !== 200) fail(`status ${status}: ${text.slice(0, 200)}`)
  if (!headers.get('content-type')?.startsWith('text/event-stream')) fail(`content-type ${headers.get('content-type')}`)
  const events = text.split('\n\n').filter(Boolean).map((event) => event.replace(/^data: /, ''))
  if (events.at(-1) !== '[DONE]') fail('the stream does not end with data: [DONE]')
  const chunks = events.slice(0, -1).map((event) => JSON.parse(event))
  const words = chunks.filter((chunk) => chunk.choices[0].delta.content)
  const joined = words.map((chunk) => chunk.choices[0].delta.content).join('')
  if (words.length !== 50 || joined !== FIFTY_WORDS) fail(`expected 50 word chunks echoing the input, got ${words.length}`)
  return `${chunks.length} events: ${[...new Set(chunks.map(shape))].join(' | ')}`
}

const BENCHMARKS = [
  {
    id: 'kernel-json',
    name: 'kernel overhead, JSON',
    body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hello world' }] }),
    check: checkJson,
    connections: 50,
    minRatio: 0.7,
    maxP99: 5,
  },
  {
    id: 'kernel-stream',
    name: 'kernel overhead, stream',
    body: JSON.stringify({ model: 'x', stream: true, messages: [{ role: 'user', content: FIFTY_WORDS }] }),
    check: checkStream,
    connections: 50,
    minRatio: 0.6,
  },
  {
    id: 'worker-offload',
    name: 'worker offload',
    run: runWorkerOffload,
    connections: 20,
    toolMs: 50,
    probeIntervalMs: 10,
    poolThreads: 1,
    maxHealthP99: 20,
    maxLoopP99: 10,
    minGain: 5,
  },
  {
    id: 'provider-ttfb',
    name: 'provider TTFB',
    run: runProviderTtfb,
    connections: 50,
    maxAddedP50: 2,
    maxAddedP99: 5,
  },
]

/** Start a server, check its answer, warm it up, measure it, stop it. */
async function measure(serverName, bench) {
  const server = await startServer(serverName)
  try {
    const answer = await probe(server, { path: PATH, body: bench.body })
    const answerShape = bench.check(answer)
    const answerBytes = Buffer.byteLength(answer.text)
    const options = { path: PATH, body: bench.body, connections: bench.connections }
    await load(server, { ...options, duration: WARMUP_SECONDS })
    const result = await load(server, { ...options, duration })
    if (result.non2xx || result.errors || result.timeouts) {
      fail(`${serverName}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts under load`)
    }
    return { ...result, answerShape, answerBytes }
  } finally {
    await stopServer(server)
  }
}

async function runBenchmark(bench) {
  process.stdout.write(`${bench.name}: baseline`)
  const baseline1 = await measure('baseline', bench)
  process.stdout.write(` ${fmtInt(baseline1.rps)} req/s, kernel`)
  const kernel = await measure('kernel', bench)
  process.stdout.write(` ${fmtInt(kernel.rps)} req/s, baseline`)
  const baseline2 = await measure('baseline', bench)
  process.stdout.write(` ${fmtInt(baseline2.rps)} req/s\n`)
  const notes = []
  if (kernel.answerShape !== baseline1.answerShape) {
    notes.push(`${bench.name}: the kernel's answer no longer has the baseline's shape; update bench/servers/baseline.mjs.\n  kernel:   ${kernel.answerShape}\n  baseline: ${baseline1.answerShape}`)
  }
  const sizeGap = kernel.answerBytes / baseline1.answerBytes - 1
  if (Math.abs(sizeGap) > 0.05) {
    notes.push(`${bench.name}: the kernel's response body is ${Math.round(Math.abs(sizeGap) * 100)}% ${sizeGap > 0 ? 'larger' : 'smaller'} than the baseline's (${kernel.answerBytes} vs ${baseline1.answerBytes} bytes).`)
  }
  const baselineRps = (baseline1.rps + baseline2.rps) / 2
  const baselineP99 = (baseline1.p99 + baseline2.p99) / 2
  const ratio = kernel.rps / baselineRps
  const rows = [
    {
      bench: bench.name,
      metric: 'req/s',
      figure: fmtInt(kernel.rps),
      baseline: `${fmtInt(baselineRps)} (${fmtInt(baseline1.rps)} / ${fmtInt(baseline2.rps)})`,
      ratio: `${ratio.toFixed(2)}×`,
      budget: `≥ ${bench.minRatio.toFixed(2)}×`,
      result: ratio >= bench.minRatio ? 'PASS' : 'MISS',
    },
  ]
  if (bench.maxP99 !== undefined) {
    rows.push({
      bench: bench.name,
      metric: 'p99 latency',
      figure: `${fmtMs(kernel.p99)} ms`,
      baseline: `${fmtMs(baselineP99)} ms (${fmtMs(baseline1.p99)} / ${fmtMs(baseline2.p99)})`,
      ratio: `${(kernel.p99 / baselineP99).toFixed(2)}×`,
      budget: `≤ ${bench.maxP99} ms`,
      result: kernel.p99 <= bench.maxP99 ? 'PASS' : 'MISS',
    })
  }
  if (kernel.serverUsPerReq !== null && baseline1.serverUsPerReq !== null && baseline2.serverUsPerReq !== null) {
    // CPU time per request barely moves with other load on the machine: the same overhead, seen steadier.
    const baselineUs = (baseline1.serverUsPerReq + baseline2.serverUsPerReq) / 2
    rows.push({
      bench: bench.name,
      metric: 'server CPU µs/req',
      figure: fmtInt(kernel.serverUsPerReq),
      baseline: `${fmtInt(baselineUs)} (${fmtInt(baseline1.serverUsPerReq)} / ${fmtInt(baseline2.serverUsPerReq)})`,
      ratio: `${(baselineUs / kernel.serverUsPerReq).toFixed(2)}× speed`,
      budget: '-',
      result: 'info',
    })
  }
  const details = [
    ['baseline #1', baseline1],
    ['kernel', kernel],
    ['baseline #2', baseline2],
  ].map(([side, r]) => ({
    bench: bench.name,
    side,
    rps: fmtInt(r.rps),
    p50: fmtMs(r.p50),
    p99: fmtMs(r.p99),
    mean: fmtMs(r.mean),
    bytes: fmtInt(r.bytesPerReq),
    serverCpu: r.serverCpu === null ? 'n/a' : `${Math.round(r.serverCpu * 100)}%`,
    usPerReq: r.serverUsPerReq === null ? 'n/a' : fmtInt(r.serverUsPerReq),
    loaderCpu: `${Math.round(r.loaderCpu * 100)}%`,
    otherCpu: r.otherCpu === null ? 'n/a' : `${Math.round(r.otherCpu * 100)}%${r.otherCpu > NOISY ? ' (noisy)' : ''}`,
    noisy: r.otherCpu !== null && r.otherCpu > NOISY,
  }))
  return { rows, tables: [{ key: 'overhead', columns: DETAIL_COLUMNS, rows: details }], notes }
}

// ---------------------------------------------------------------------------------------------------------------
// worker-offload: does the pool keep the event loop serving while agents run CPU-heavy tools?

/** The packages of the kernel-cpu server, linked into a temp app (the fixture skill is no workspace package). */
const CPU_APP = { '@robutler/plugin-local': 'plugins/local', 'robutler-skill-cpu': 'test/fixtures/skills/cpu' }
const JSON_HEADERS = { 'content-type': 'application/json' }

/** One side of worker-offload: a kernel-cpu server with `threads` pool threads (0: the main thread). */
async function measureOffload(bench, app, threads) {
  const server = await startServer('kernel-cpu', { env: { BENCH_APP_DIR: app.dir, BENCH_WORKER_THREADS: String(threads) } })
  const chatAgent = keepAliveAgent(bench.connections)
  const probeAgent = keepAliveAgent(1)
  try {
    const chatUrl = `${server.url}/cpu/chat/completions`
    const body = JSON.stringify({ model: 'x', messages: [{ role: 'user', content: `/tool busy {"ms": ${bench.toolMs}}` }] })
    const expected = JSON.stringify({ ms: bench.toolMs, spins: true })
    const check = ({ status, text }) => {
      if (status !== 200) return `status ${status}: ${text.slice(0, 200)}`
      const content = JSON.parse(text).choices?.[0]?.message?.content
      return content === expected ? null : `the answer is not the tool's result: ${text.slice(0, 200)}`
    }
    // The answer must be the busy tool's result, come back through the model, before anything is timed.
    const agent = keepAliveAgent(1)
    try {
      const first = await timedRequest(agent, chatUrl, { method: 'POST', headers: JSON_HEADERS, body })
      const wrong = first.error ? String(first.error.message) : check(first)
      if (wrong) fail(`${server.name} (workerThreads ${threads}): ${wrong}`)
      const health = await timedRequest(agent, `${server.url}/health`)
      if (health.status !== 200 || JSON.parse(health.text).status !== 'healthy') fail(`/health: ${health.status} ${health.text?.slice(0, 200)}`)
    } finally {
      agent.destroy()
    }
    // A call may wait for the pool for the whole run (see the chat max column), so its deadline is past the run's.
    const timeoutMs = (duration + 30) * 1000
    const chatOptions = { url: chatUrl, method: 'POST', headers: JSON_HEADERS, body, connections: bench.connections, check, timeoutMs, agent: chatAgent }
    // The warm-up opens every connection (chats and probe) that the measurement then reuses.
    const probeOptions = { url: `${server.url}/health`, intervalMs: bench.probeIntervalMs, timeoutMs, agent: probeAgent }
    const [warm] = await Promise.all([
      closedLoop({ ...chatOptions, duration: WARMUP_SECONDS }),
      probeLoop({ ...probeOptions, duration: WARMUP_SECONDS }),
    ])
    if (warm.failures) fail(`warm-up: ${warm.failures} failed calls, first: ${warm.firstFailure}`)
    await ask(server, 'loop-reset')
    const window = cpuWindow([server])
    const chats = closedLoop({ ...chatOptions, duration })
    // The probe window is the measured window: the event-loop report is read as soon as it ends.
    const probes = await probeLoop({ ...probeOptions, duration })
    const loop = await ask(server, 'loop-report')
    const cpu = window.stop()
    const chat = await chats
    if (chat.failures) fail(`workerThreads ${threads}: ${chat.failures} of ${chat.failures + chat.count} chat calls failed, first: ${chat.firstFailure}`)
    if (probes.failures) fail(`workerThreads ${threads}: ${probes.failures} /health probes failed, first: ${probes.firstFailure}`)
    return {
      threads,
      chat: { rps: chat.rps, count: chat.count, ...percentiles(chat.total) },
      health: percentiles(probes.latency),
      healthService: percentiles(probes.service),
      loop,
      serverCpu: cpu.byServer[server.name],
      loaderCpu: cpu.loaderCpu,
      otherCpu: cpu.otherCpu,
    }
  } finally {
    chatAgent.destroy()
    probeAgent.destroy()
    await stopServer(server)
  }
}

async function runWorkerOffload(bench) {
  const cores = availableParallelism()
  const poolLabel = `pool (${bench.poolThreads} thread${bench.poolThreads > 1 ? 's' : ''}, ${cores} cores)`
  const app = await linkedApp(CPU_APP)
  let pool
  let main
  try {
    process.stdout.write(`${bench.name}: ${poolLabel}`)
    pool = await measureOffload(bench, app, bench.poolThreads)
    process.stdout.write(` /health p99 ${fmtMs(pool.health.p99)} ms, loop p99 ${fmtMs(pool.loop.p99)} ms; main thread`)
    main = await measureOffload(bench, app, 0)
    process.stdout.write(` /health p99 ${fmtMs(main.health.p99)} ms, loop p99 ${fmtMs(main.loop.p99)} ms\n`)
  } finally {
    await app.cleanup()
  }
  const rows = []
  const pair = (metric, poolValue, mainValue, max) => {
    const gain = mainValue / poolValue
    rows.push({
      bench: bench.name,
      metric: `${metric}, ${poolLabel}`,
      figure: `${fmtMs(poolValue)} ms`,
      baseline: `${fmtMs(mainValue)} ms (main thread)`,
      ratio: `${gain.toFixed(1)}× better`,
      budget: `≤ ${max} ms`,
      result: poolValue <= max ? 'PASS' : 'MISS',
    })
    rows.push({
      bench: bench.name,
      metric: `${metric}, main thread ÷ pool`,
      figure: `${gain.toFixed(1)}×`,
      baseline: `${fmtMs(mainValue)} ms / ${fmtMs(poolValue)} ms`,
      ratio: `${gain.toFixed(1)}×`,
      budget: `≥ ${bench.minGain}×`,
      result: gain >= bench.minGain ? 'PASS' : 'MISS',
    })
  }
  pair('/health p99', pool.health.p99, main.health.p99, bench.maxHealthP99)
  pair('event-loop delay p99', pool.loop.p99, main.loop.p99, bench.maxLoopP99)
  rows.push({
    bench: bench.name,
    metric: `chat calls/s (${bench.toolMs} ms tool each)`,
    figure: fmtNum(pool.chat.rps),
    baseline: `${fmtNum(main.chat.rps)} (main thread)`,
    ratio: `${(pool.chat.rps / main.chat.rps).toFixed(2)}×`,
    budget: '-',
    result: 'info',
  })
  const details = [
    [poolLabel, pool],
    ['main thread', main],
  ].map(([side, r]) => ({
    bench: bench.name,
    side,
    chatRps: fmtNum(r.chat.rps),
    chatP50: fmtMs(r.chat.p50),
    chatP99: fmtMs(r.chat.p99),
    chatMax: fmtMs(r.chat.max),
    probes: fmtInt(r.health.n),
    healthP50: fmtMs(r.health.p50),
    healthP99: fmtMs(r.health.p99),
    healthMax: fmtMs(r.health.max),
    sentP99: fmtMs(r.healthService.p99),
    loopP50: fmtMs(r.loop.p50),
    loopP99: fmtMs(r.loop.p99),
    loopMax: fmtMs(r.loop.max),
    serverCpu: pct(r.serverCpu),
    loaderCpu: pct(r.loaderCpu),
    otherCpu: otherPct(r.otherCpu),
    noisy: r.otherCpu !== null && r.otherCpu > NOISY,
  }))
  const notes = []
  // A FIFO queue makes each of the closed loop's calls wait for the others' tools once: about this long.
  const fairWait = (bench.connections * bench.toolMs) / bench.poolThreads
  if (pool.chat.max > 3 * fairWait) {
    notes.push(
      `${bench.name}: with the pool, the slowest chat call took ${fmtInt(pool.chat.max)} ms where a first-in-first-out ` +
        `queue would make each wait about ${fmtInt(fairWait)} ms (${bench.connections} calls × ${bench.toolMs} ms ÷ ${bench.poolThreads} ` +
        `thread): queued tool tasks ran out of turn. Not budgeted here; see the chat columns.`,
    )
  }
  if (bench.poolThreads < cores - 1) notes.push(`${bench.name}: the pool ran ${bench.poolThreads} thread(s) on ${cores} cores (the default would be ${cores - 1}).`)
  return { rows, tables: [{ key: 'offload', columns: OFFLOAD_COLUMNS, rows: details }], notes }
}

// ---------------------------------------------------------------------------------------------------------------
// provider-ttfb: what the kernel adds to the time to first byte of a streamed completion from an upstream.

const TTFB_UNLOADED_SECONDS = 3
const TTFB_MESSAGES = [{ role: 'user', content: 'hello world' }]

function checkTtfbStream({ status, text }) {
  if (status !== 200) return `status ${status}: ${text.slice(0, 200)}`
  if (!text.endsWith('data: [DONE]\n\n')) return `the stream does not end with data: [DONE]: ${text.slice(-200)}`
  return null
}

/** The whole answer must be right (not only its end) before speeds are compared. */
function checkTtfbContent(text) {
  const events = text.split('\n\n').filter(Boolean).map((event) => event.replace(/^data: /, ''))
  const chunks = events.slice(0, -1).map((event) => JSON.parse(event))
  const content = chunks.map((chunk) => chunk.choices?.[0]?.delta?.content ?? '').join('')
  if (content !== 'hello world') fail(`expected the upstream's 'hello world', got '${content}' in ${text.slice(0, 300)}`)
  if (chunks[0]?.choices?.[0]?.delta?.role !== 'assistant') fail('the first chunk carries no assistant role')
}

/** One closed-loop measurement (warm-up, then `seconds` measured) of streamed completions at `url`. */
async function measureTtfb({ url, body, connections, seconds, warmup, servers, upstream }) {
  const agent = keepAliveAgent(connections)
  const options = { url, method: 'POST', headers: JSON_HEADERS, body, connections, check: checkTtfbStream, agent }
  let r, cpu, upstreamStreams
  try {
    const warm = await closedLoop({ ...options, duration: warmup })
    if (warm.failures) fail(`${url} warm-up: ${warm.failures} failed streams, first: ${warm.firstFailure}`)
    const streams0 = (await ask(upstream, 'stats')).streams
    const window = cpuWindow(servers)
    r = await closedLoop({ ...options, duration: seconds })
    cpu = window.stop()
    upstreamStreams = (await ask(upstream, 'stats')).streams - streams0
  } finally {
    agent.destroy()
  }
  if (r.failures) fail(`${url}: ${r.failures} of ${r.failures + r.count} streams failed, first: ${r.firstFailure}`)
  return { connections, rps: r.rps, count: r.count, upstreamStreams, ttfb: percentiles(r.ttfb), whole: percentiles(r.total), cpu }
}

async function runProviderTtfb(bench) {
  const fake = await startServer('fake-openai')
  let kernel = null
  try {
    kernel = await startServer('kernel-openai', { env: { BENCH_UPSTREAM_URL: fake.url } })
    const servers = [fake, kernel]
    const directPath = '/v1/chat/completions'
    const kernelPath = '/bench/chat/completions'
    const directUrl = fake.url + directPath
    const kernelUrl = kernel.url + kernelPath
    // Direct: the body the kernel sends upstream (plugin-openai adds stream_options.include_usage).
    const directBody = JSON.stringify({ model: 'gpt-bench', messages: TTFB_MESSAGES, stream: true, stream_options: { include_usage: true } })
    const kernelBody = JSON.stringify({ model: 'x', messages: TTFB_MESSAGES, stream: true })
    for (const [server, path, body] of [[fake, directPath, directBody], [kernel, kernelPath, kernelBody]]) {
      const answer = await probe(server, { path, body })
      const wrong = checkTtfbStream(answer)
      if (wrong) fail(`${server.name}: ${wrong}`)
      checkTtfbContent(answer.text)
    }
    const loaded = { connections: bench.connections, seconds: duration, warmup: WARMUP_SECONDS, servers, upstream: fake }
    process.stdout.write(`${bench.name}: direct`)
    const direct1 = await measureTtfb({ ...loaded, url: directUrl, body: directBody })
    process.stdout.write(` p50 ${fmtMs(direct1.ttfb.p50)} ms, kernel`)
    const viaKernel = await measureTtfb({ ...loaded, url: kernelUrl, body: kernelBody })
    process.stdout.write(` p50 ${fmtMs(viaKernel.ttfb.p50)} ms, direct`)
    const direct2 = await measureTtfb({ ...loaded, url: directUrl, body: directBody })
    process.stdout.write(` p50 ${fmtMs(direct2.ttfb.p50)} ms; 1 stream: direct`)
    const unloaded = { connections: 1, seconds: Math.min(duration, TTFB_UNLOADED_SECONDS), warmup: 1, servers, upstream: fake }
    const direct1c = await measureTtfb({ ...unloaded, url: directUrl, body: directBody })
    process.stdout.write(` p50 ${fmtMs(direct1c.ttfb.p50)} ms, kernel`)
    const kernel1c = await measureTtfb({ ...unloaded, url: kernelUrl, body: kernelBody })
    process.stdout.write(` p50 ${fmtMs(kernel1c.ttfb.p50)} ms\n`)

    const notes = []
    // One upstream stream per client stream through the kernel (more would mean retries); the counts may differ
    // by the streams in flight at either end of the window.
    for (const r of [viaKernel, kernel1c]) {
      if (Math.abs(r.upstreamStreams - r.count) > r.connections) {
        notes.push(`${bench.name}: the upstream served ${r.upstreamStreams} streams while the kernel answered ${r.count} (${r.connections} concurrent).`)
      }
    }
    const rows = []
    for (const [p, max] of [['p50', bench.maxAddedP50], ['p99', bench.maxAddedP99]]) {
      const base = (direct1.ttfb[p] + direct2.ttfb[p]) / 2
      const added = viaKernel.ttfb[p] - base
      rows.push({
        bench: bench.name,
        metric: `added TTFB ${p}, ${bench.connections} streams (kernel ${fmtMs(viaKernel.ttfb[p])} ms)`,
        figure: `${added >= 0 ? '+' : ''}${fmtMs(added)} ms`,
        baseline: `${fmtMs(base)} ms direct (${fmtMs(direct1.ttfb[p])} / ${fmtMs(direct2.ttfb[p])})`,
        ratio: `${(viaKernel.ttfb[p] / base).toFixed(2)}×`,
        budget: `≤ +${max} ms`,
        result: added <= max ? 'PASS' : 'MISS',
      })
    }
    for (const p of ['p50', 'p99']) {
      const added = kernel1c.ttfb[p] - direct1c.ttfb[p]
      rows.push({
        bench: bench.name,
        metric: `added TTFB ${p}, 1 stream (kernel ${fmtMs(kernel1c.ttfb[p])} ms)`,
        figure: `${added >= 0 ? '+' : ''}${fmtMs(added)} ms`,
        baseline: `${fmtMs(direct1c.ttfb[p])} ms direct`,
        ratio: `${(kernel1c.ttfb[p] / direct1c.ttfb[p]).toFixed(2)}×`,
        budget: '-',
        result: 'info',
      })
    }
    const directRps = (direct1.rps + direct2.rps) / 2
    rows.push({
      bench: bench.name,
      metric: `streams/s, ${bench.connections} streams`,
      figure: fmtInt(viaKernel.rps),
      baseline: `${fmtInt(directRps)} direct (${fmtInt(direct1.rps)} / ${fmtInt(direct2.rps)})`,
      ratio: `${(viaKernel.rps / directRps).toFixed(2)}×`,
      budget: '-',
      result: 'info',
    })
    const usPer = (r, name) => {
      const seconds = r.cpu.cpuSecondsOf(name)
      return seconds === null || r.count === 0 ? null : (seconds * 1e6) / r.count
    }
    const kernelUs = usPer(viaKernel, kernel.name)
    const upstreamUs = (usPer(direct1, fake.name) + usPer(direct2, fake.name)) / 2
    if (kernelUs !== null && Number.isFinite(upstreamUs)) {
      rows.push({
        bench: bench.name,
        metric: 'server CPU µs/stream (kernel; upstream direct)',
        figure: fmtInt(kernelUs),
        baseline: `${fmtInt(upstreamUs)} (upstream)`,
        ratio: `${(kernelUs / upstreamUs).toFixed(1)}×`,
        budget: '-',
        result: 'info',
      })
    }
    const details = [
      ['direct #1', direct1],
      ['kernel', viaKernel],
      ['direct #2', direct2],
      ['direct, 1 stream', direct1c],
      ['kernel, 1 stream', kernel1c],
    ].map(([side, r]) => {
      const kernelCpu = r.cpu.byServer[kernel.name]
      const usPerStream = usPer(r, kernel.name)
      return {
        bench: bench.name,
        side,
        streams: String(r.connections),
        rps: fmtInt(r.rps),
        ttfbP50: fmtMs(r.ttfb.p50),
        ttfbP90: fmtMs(r.ttfb.p90),
        ttfbP99: fmtMs(r.ttfb.p99),
        ttfbMax: fmtMs(r.ttfb.max),
        wholeP50: fmtMs(r.whole.p50),
        wholeP99: fmtMs(r.whole.p99),
        upstreamCpu: pct(r.cpu.byServer[fake.name]),
        kernelCpu: side.startsWith('kernel') ? pct(kernelCpu) : '-',
        usPerStream: side.startsWith('kernel') && usPerStream !== null ? fmtInt(usPerStream) : '-',
        loaderCpu: pct(r.cpu.loaderCpu),
        otherCpu: otherPct(r.cpu.otherCpu),
        noisy: r.cpu.otherCpu !== null && r.cpu.otherCpu > NOISY,
      }
    })
    return { rows, tables: [{ key: 'ttfb', columns: TTFB_COLUMNS, rows: details }], notes }
  } finally {
    if (kernel) await stopServer(kernel)
    await stopServer(fake)
  }
}

function fmtInt(n) {
  return Math.round(n).toLocaleString('en-US')
}
function fmtMs(n) {
  return Number.isInteger(n) ? String(n) : n.toFixed(2)
}
function fmtNum(n) {
  return n >= 100 ? fmtInt(n) : n.toFixed(1)
}
function pct(share) {
  return share === null || share === undefined ? 'n/a' : `${Math.round(share * 100)}%`
}
function otherPct(share) {
  return share === null ? 'n/a' : `${Math.round(share * 100)}%${share > NOISY ? ' (noisy)' : ''}`
}

/** Rows of objects → an aligned plain-text table and a Markdown table. */
function tables(columns, rows) {
  const cells = rows.map((row) => columns.map(([key]) => String(row[key])))
  const heads = columns.map(([, head]) => head)
  const widths = heads.map((head, i) => Math.max(head.length, ...cells.map((c) => c[i].length)))
  const line = (values) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()
  const text = [line(heads), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n')
  const md = [`| ${heads.join(' | ')} |`, `|${heads.map(() => '---').join('|')}|`, ...cells.map((c) => `| ${c.join(' | ')} |`)].join('\n')
  return { text, md }
}

const SUMMARY_COLUMNS = [
  ['bench', 'benchmark'],
  ['metric', 'metric'],
  ['figure', 'figure'],
  ['baseline', 'baseline (same run)'],
  ['ratio', 'ratio'],
  ['budget', 'budget'],
  ['result', 'result'],
]
const DETAIL_COLUMNS = [
  ['bench', 'benchmark'],
  ['side', 'server'],
  ['rps', 'req/s'],
  ['p50', 'p50 ms'],
  ['p99', 'p99 ms'],
  ['mean', 'mean ms'],
  ['bytes', 'bytes/resp'],
  ['serverCpu', 'server CPU'],
  ['usPerReq', 'server CPU µs/req'],
  ['loaderCpu', 'autocannon CPU'],
  ['otherCpu', 'other CPU'],
]
const OFFLOAD_COLUMNS = [
  ['bench', 'benchmark'],
  ['side', 'worker tools on'],
  ['chatRps', 'chat calls/s'],
  ['chatP50', 'chat p50 ms'],
  ['chatP99', 'chat p99 ms'],
  ['chatMax', 'chat max ms'],
  ['probes', '/health probes'],
  ['healthP50', '/health p50 ms'],
  ['healthP99', '/health p99 ms'],
  ['healthMax', '/health max ms'],
  ['sentP99', '/health p99 ms from send'],
  ['loopP50', 'loop delay p50 ms'],
  ['loopP99', 'loop delay p99 ms'],
  ['loopMax', 'loop delay max ms'],
  ['serverCpu', 'server CPU'],
  ['loaderCpu', 'load CPU'],
  ['otherCpu', 'other CPU'],
]
const TTFB_COLUMNS = [
  ['bench', 'benchmark'],
  ['side', 'side'],
  ['streams', 'streams'],
  ['rps', 'streams/s'],
  ['ttfbP50', 'TTFB p50 ms'],
  ['ttfbP90', 'TTFB p90 ms'],
  ['ttfbP99', 'TTFB p99 ms'],
  ['ttfbMax', 'TTFB max ms'],
  ['wholeP50', 'whole p50 ms'],
  ['wholeP99', 'whole p99 ms'],
  ['upstreamCpu', 'upstream CPU'],
  ['kernelCpu', 'kernel CPU'],
  ['usPerStream', 'kernel CPU µs/stream'],
  ['loaderCpu', 'load CPU'],
  ['otherCpu', 'other CPU'],
]

const filter = process.argv[2]?.toLowerCase()
const selected = BENCHMARKS.filter((b) => !filter || b.id.includes(filter) || b.name.toLowerCase().includes(filter))
if (selected.length === 0) {
  console.error(`no benchmark matches '${process.argv[2]}'; benchmarks: ${BENCHMARKS.map((b) => b.id).join(', ')}`)
  process.exit(2)
}

const rows = []
/** Detail tables by key, in the order benchmarks first produced them. */
const detailTables = new Map()
const notes = []
let broken = false
for (const bench of selected) {
  try {
    const out = await (bench.run ?? runBenchmark)(bench)
    rows.push(...out.rows)
    for (const table of out.tables) {
      if (!detailTables.has(table.key)) detailTables.set(table.key, { columns: table.columns, rows: [] })
      detailTables.get(table.key).rows.push(...table.rows)
    }
    notes.push(...out.notes)
  } catch (error) {
    broken = true
    process.stdout.write('\n')
    console.error(`${bench.name}: ${error.stack ?? error}`)
    rows.push({ bench: bench.name, metric: '-', figure: '-', baseline: '-', ratio: '-', budget: '-', result: `ERROR: ${error.message}` })
  }
}

const summary = tables(SUMMARY_COLUMNS, rows)
const details = [...detailTables.values()]
const detail = details.map((table) => tables(table.columns, table.rows))
const misses = rows.filter((r) => r.result === 'MISS').length
console.log(`\n${summary.text}\n\n${detail.map((t) => `${t.text}\n\n`).join('')}`)
const measured = details.flatMap((table) => table.rows)
const noisy = measured.filter((d) => d.noisy).length
const noiseNote = noisy
  ? `${noisy} of ${measured.length} measurements ran while other work used over ${NOISY * 100}% of a core ` +
    `('other CPU'); their throughput and latency are suspect, CPU per request ('server CPU µs/req', 'kernel CPU µs/stream') ` +
    `is the steadier figure. Re-run on a quiet machine.`
  : ''
if (noiseNote) notes.push(noiseNote)
for (const note of notes) console.log(`Note: ${note}\n`)
if (misses) console.log(`*** MISS: ${misses} budget${misses > 1 ? 's' : ''} missed (a report, not a test: exit code stays 0) ***`)

const cpu = cpus()[0]?.model?.trim() ?? 'unknown'
const common =
  `Method: each server runs in its own child process (child_process.fork) on 127.0.0.1 and reports its port over IPC; ` +
  `the load comes from this process. Kernels run createServer with logLevel 'info', logs to /dev/null (pino async). ` +
  `CPU columns come from /proc, in % of one core: the servers, this process (the load) and 'other' = the rest of the machine.`
const METHODS = {
  overhead: (bench) =>
    `Kernel overhead (kernel-json, kernel-stream): autocannon (programmatic, one worker) drives ${bench.connections} ` +
    `connections, ${WARMUP_SECONDS} s warm-up then ${duration} s measured, in the order baseline, kernel, baseline; the ratio ` +
    `is kernel req/s over the mean of the two baselines (the baseline column: mean (#1 / #2)). Kernel: plugin-local (local/echo); ` +
    `baseline: bare Fastify (same package, logger off) sending answers of the same shape (checked before each run) and size ` +
    `(see bytes/resp).`,
  offload: (bench) =>
    `Worker offload (worker-offload): the kernel with plugin-local and the fixture skill robutler-skill-cpu (linked into a ` +
    `temp app) on agent 'cpu', measured twice, one fresh server each: workerThreads ${bench.poolThreads} (the pool, on ` +
    `${availableParallelism()} cores) and workerThreads 0 (the same worker function run on the main thread); the baseline of ` +
    `the pool's figures is the main-thread run. ${bench.connections} closed-loop keep-alive connections (node:http) POST ` +
    `\`/tool busy {"ms": ${bench.toolMs}}\` (the model calls the tool, which burns ${bench.toolMs} ms of CPU, and answers its result, ` +
    `checked), ${WARMUP_SECONDS} s warm-up then ${duration} s measured; meanwhile GET /health goes every ${bench.probeIntervalMs} ms on ` +
    `one keep-alive connection of its own, one probe at a time. /health latency counts from each probe's scheduled time, so a ` +
    `probe held back by a stalled server is charged for the wait (no coordinated omission); '/health p99 ms from send' counts ` +
    `from the moment it was sent (low on the main thread only because most of its probes could go out after the load ` +
    `had stopped). Event-loop delay: perf_hooks.monitorEventLoopDelay({ resolution: 1 }) inside the server, ` +
    `reset when the measured window starts and read over IPC when it ends (its floor is the 1 ms resolution itself).`,
  ttfb: (bench) =>
    `Provider TTFB (provider-ttfb): a fake OpenAI upstream (node:http in a child process, keep-alive) answers a streamed ` +
    `chat completion at once (role chunk, 2 content chunks, finish chunk, usage chunk when asked, [DONE]). The kernel: ` +
    `@robutler/plugin-openai { apiKey: 'sk-bench', baseURL: '<fake>/v1' }, agent 'bench' on openai/gpt-bench. ` +
    `${bench.connections} closed-loop keep-alive connections (node:http) each POST a streamed completion and read it to [DONE] ` +
    `(its content checked first); TTFB = from sending the request to the first body byte, every request recorded, exact ` +
    `nearest-rank percentiles. Order: direct, kernel, direct (${WARMUP_SECONDS} s warm-up, ${duration} s measured each); added TTFB = ` +
    `kernel minus the mean of the two directs, per percentile. A closed loop at ${bench.connections} streams keeps every ` +
    `connection busy, so its TTFB is mostly queueing (≈ streams ÷ throughput); the '1 stream' rows (${TTFB_UNLOADED_SECONDS} s each) ` +
    `show the path alone.`,
}
const kindOf = (bench) => (bench.run === runWorkerOffload ? 'offload' : bench.run === runProviderTtfb ? 'ttfb' : 'overhead')
const methods = [...new Map(selected.map((bench) => [kindOf(bench), bench])).entries()].map(([kind, bench]) => METHODS[kind](bench))
writeFileSync(
  join(BENCH_DIR, 'RESULTS.md'),
  `# Benchmark results\n\n` +
    `- Date: ${new Date().toISOString()}\n` +
    `- Node: ${process.version} (${process.platform}/${process.arch})\n` +
    `- CPUs: ${availableParallelism()} × ${cpu}\n` +
    `- Duration: ${duration} s per measurement${filter ? `; filter: \`${process.argv[2]}\`` : ''}\n\n` +
    `${summary.md}\n\n${detail.map((t) => `${t.md}\n\n`).join('')}` +
    notes.map((note) => `Note: ${note}\n\n`).join('') +
    `${common}\n\n${methods.join('\n\n')}\n`,
)
console.log(`wrote ${join(BENCH_DIR, 'RESULTS.md')}`)
process.exitCode = broken ? 1 : 0
