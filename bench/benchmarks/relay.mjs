// relay: what a streamed token costs through Robutler against relaying its bytes (issue 24). Three relays side by
// side, each in its own process, in front of one fake OpenAI upstream that holds N concurrent streams of C stamped
// content chunks one interval apart, the client in another process (bench/servers/relay-client.mjs): node:http
// piping the upstream's bytes (the floor), bare Fastify + the openai SDK re-serialising each chunk,
// and the kernel + plugin-openai to an agent with no skills. Per relay: CPU per relayed chunk (/proc of the relay),
// memory per held stream (RSS while all streams are open, minus idle, ÷ N), steady-state chunk delay p99. Then whole
// relayed requests (non-streamed, and streamed 20-chunk) through the kernel against a raw Fastify relay.
//   BENCH_RELAY_STREAMS=1000 BENCH_RELAY_CHUNKS=50 BENCH_RELAY_INTERVAL_MS=100   (smaller for a quick run)
//   BENCH_RELAY_SPREAD_MS=1000 (the streams' starts spread over this long; default half a stream, at most 1 s)
import { execFileSync, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { fail } from '../answers.mjs'
import { cpuWindow, load, probe, REPO_DIR, rssKiB, serverGroup } from '../lib.mjs'
import { fmtInt, fmtMs, NOISY, otherPct, pct } from '../report.mjs'

const env = process.env
const STREAMS = Number(env.BENCH_RELAY_STREAMS || 1000)
const CHUNKS = Number(env.BENCH_RELAY_CHUNKS || 50)
const INTERVAL_MS = Number(env.BENCH_RELAY_INTERVAL_MS || 100)
/** Each stream's first content chunks are left out of the delay: they carry its start-up, not the steady state. */
const SKIP = Math.min(5, Math.max(0, CHUNKS - 2))
/**
 * The streams' starts are spread over this long (at most half a stream's length), so that they arrive one by one
 * rather than 1,000 within one interval: the steady state is what is measured, not a burst of request starts.
 */
const SPREAD_MS = Number(env.BENCH_RELAY_SPREAD_MS || Math.min(1000, (CHUNKS * INTERVAL_MS) / 2))
const WHOLE_CONNECTIONS = 10
const WHOLE_CHUNKS = 20
const RSS_EVERY_MS = 200

export const relay = {
  id: 'relay',
  name: 'relay',
  methodKey: 'relay',
  maxCpuRatio: 1.3,
  maxMemoryRatio: 1.3,
  maxDelayRatio: 1.5,
  minWholeRatio: 0.5,
  why: {
    'CPU per relayed chunk':
      'Why (when it misses; --cpu-prof of the kernel relaying 1,000 × 50 chunks, 2026-12-07): most of the relay\'s time is ' +
      'node core and native — writev per chunk written (also the pipe\'s), the HTTP client\'s parser, the node stream\'s ' +
      'async iterator (a promise per piece read) — and the kernel\'s and plugin\'s own JS is ~15% of it: the chunk parsed ' +
      '(JSON.parse) and re-serialised, three async generator hops (provider → callModel → runAgent), each a few ' +
      'microtasks. Per stream (~7 µs a chunk at 54 events a stream): the Fastify route and body, the SDK building the ' +
      'request (formatRequestDetails, buildHeaders, an AbortController), the Response and Headers of its fetch. The ' +
      'SDK\'s web stream and SSE parser are gone since 2026-12-07 (plugin-openai reads the node stream; 95 → 80 µs in one ' +
      'noisy run).',
    'memory per held stream':
      'Why (when it misses): per held stream the kernel keeps its Context, the agent loop\'s generators (provider, ' +
      'callModel, runAgent) and their frames, the SDK\'s request state (AbortController, Headers, Response with its lazy ' +
      'web body) beside both sockets\' buffers, which are all the pipe keeps.',
    'chunk delay p99':
      'Why (when it misses): the delay is queueing behind the relay\'s CPU: at 1,000 streams the kernel runs at ~50–60% ' +
      'of a core where the pipe runs at ~25%, so a GC pause or a burst of stream starts delays more chunks; on 2 shared ' +
      'cores with the client and upstream beside it the p99 moves by 10× between runs (see other CPU).',
    'whole relayed requests':
      'Why (when it misses): a whole relayed request costs the kernel ~400–500 µs of CPU (non-streamed) where the raw ' +
      'relay costs ~60–80: the openai SDK per call (formatRequestDetails, buildHeaders, makeRequest, an AbortController ' +
      'and its transferable signal, undici Headers and Response, response.json()) is the largest part, then the kernel ' +
      'route (~20 µs, see kernel overhead, JSON) and writev\'s loopback wake-up (27% of the profile). Not worked on yet.',
  },
  run: (context) => runRelay(relay, context),
  method: (context) => relayMethod(relay, context),
}

const RELAY_COLUMNS = [
  ['bench', 'benchmark'],
  ['side', 'relay'],
  ['streams', 'streams'],
  ['events', 'events relayed'],
  ['usPerChunk', 'CPU µs/chunk'],
  ['relayCpu', 'relay CPU'],
  ['kibPerStream', 'KiB/held stream'],
  ['idle', 'idle RSS MiB'],
  ['held', 'held RSS MiB'],
  ['delayP50', 'delay p50 ms'],
  ['delayP99', 'delay p99 ms'],
  ['delayMax', 'delay max ms'],
  ['upstreamCpu', 'upstream CPU'],
  ['otherCpu', 'other CPU'],
]

/** The client child: forked once, asked to run one batch of streams at a time. */
async function startClient() {
  const child = fork(fileURLToPath(new URL('../servers/relay-client.mjs', import.meta.url)), [], { cwd: REPO_DIR, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`relay client exited early (${code})`)))
  })
  return {
    child,
    run(options) {
      const timeoutMs = 60_000 + CHUNKS * INTERVAL_MS * 4 + INTERVAL_MS * 10
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`relay client: no answer within ${timeoutMs} ms`)), timeoutMs)
        const onMessage = (message) => {
          if (message?.cmd !== 'run') return
          clearTimeout(timer)
          child.off('message', onMessage)
          if (message.error) reject(new Error(message.error))
          else resolve(message)
        }
        child.on('message', onMessage)
        child.send({ cmd: 'run', ...options })
      })
    },
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
    },
  }
}

// Usage asked for: the pipe and the SDK relay always ask the upstream for it and pass it on.
const STREAM_BODY = JSON.stringify({ model: 'x', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hello world' }] })
const JSON_BODY = JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hello world' }] })
const PATH = '/bench/chat/completions'

/** One batch of held streams through `server`: its CPU, RSS samples and the client's figures. */
async function heldRun(client, server, upstream, streams) {
  // The client is listed so that its CPU is not counted as the rest of the machine's ('other CPU').
  const samples = []
  const timer = setInterval(() => samples.push([Date.now(), rssKiB(server.child.pid)]), RSS_EVERY_MS)
  const window = cpuWindow([server, upstream, { name: 'client', child: client.child }])
  let r
  try {
    r = await client.run({ url: server.url + PATH, body: STREAM_BODY, streams, skip: SKIP, spreadMs: SPREAD_MS })
  } finally {
    clearInterval(timer)
  }
  const cpu = window.stop()
  if (r.failures || r.completed !== streams) fail(`${server.name}: ${r.completed} of ${streams} streams completed, ${r.failures} failed, first: ${r.firstFailure}`)
  const expected = streams * (CHUNKS + 4) // role, C contents, finish, usage, [DONE]
  if (r.events !== expected) fail(`${server.name}: relayed ${r.events} events, expected ${expected}`)
  return { r, cpu, samples }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : null
}

async function measureRelay(client, server, upstream) {
  // Warm-up: a tenth of the streams (JIT, pools), then the idle RSS.
  await heldRun(client, server, upstream, Math.max(1, Math.round(STREAMS / 10)))
  await new Promise((resolve) => setTimeout(resolve, 500))
  const idle = rssKiB(server.child.pid)
  const { r, cpu, samples } = await heldRun(client, server, upstream, STREAMS)
  const inWindow = samples.filter(([t]) => t >= r.allOpen && t <= r.firstEnd).map(([, kib]) => kib)
  const held = inWindow.length ? median(inWindow) : Math.max(...samples.map(([, kib]) => kib))
  const seconds = cpu.cpuSecondsOf(server.name)
  return {
    events: r.events,
    usPerChunk: seconds === null ? null : (seconds * 1e6) / r.events,
    relayCpu: cpu.byServer[server.name],
    upstreamCpu: cpu.byServer[upstream.name],
    otherCpu: cpu.otherCpu,
    idle,
    held,
    kibPerStream: idle === null || held === null ? null : (held - idle) / STREAMS,
    heldSamples: inWindow.length,
    delayP50: r.delayP50,
    delayP99: r.delayP99,
    delayMax: r.delayMax,
  }
}

function ratioRow(bench, metric, figure, base, fmt, unit, budget, lowerIsBetter = true) {
  const ratio = figure / base
  const ok = budget === undefined ? 'info' : (lowerIsBetter ? ratio <= budget : ratio >= budget) ? 'PASS' : 'MISS'
  return {
    bench: bench.name,
    metric,
    figure: `${fmt(figure)} ${unit}`,
    baseline: `${fmt(base)} ${unit} (pipe)`,
    ratio: `${ratio.toFixed(2)}×`,
    budget: budget === undefined ? '-' : `${lowerIsBetter ? '≤' : '≥'} ${budget}×`,
    result: ok,
  }
}

/** Pins a process to one core (taskset), as the issue measured whole requests; false where taskset is missing. */
function pin(server, core) {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(server.child.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function runRelay(bench, context) {
  const servers = serverGroup()
  const client = await startClient()
  try {
    const upstream = await servers.start('fake-openai', { BENCH_UPSTREAM_CHUNK_DELAY_MS: String(INTERVAL_MS), BENCH_UPSTREAM_CHUNKS: String(CHUNKS), BENCH_UPSTREAM_STAMP: '1' })
    const relays = [
      ['node:http pipe (the floor)', await servers.start('pass-through', { BENCH_UPSTREAM_URL: upstream.url })],
      ['node:http + openai SDK', await servers.start('sdk-proxy', { BENCH_UPSTREAM_URL: upstream.url })],
      ['kernel + plugin-openai', await servers.start('kernel-openai', { BENCH_UPSTREAM_URL: upstream.url })],
    ]
    context.write(`${bench.name}: ${STREAMS} streams × ${CHUNKS} chunks every ${INTERVAL_MS} ms:`)
    const measured = []
    for (const [label, server] of relays) {
      const m = await measureRelay(client, server, upstream)
      measured.push([label, server, m])
      context.write(` ${server.name} ${fmtInt(m.usPerChunk)} µs/chunk, ${fmtInt(m.kibPerStream)} KiB/stream, p99 ${fmtMs(m.delayP99)} ms;`)
    }
    const [[, , pipe], [, , sdk], [, , kernel]] = measured
    const rows = []
    for (const [label, m, budgets] of [['kernel + plugin-openai', kernel, true], ['node:http + openai SDK', sdk, false]]) {
      rows.push(ratioRow(bench, `CPU per relayed chunk, ${label}`, m.usPerChunk, pipe.usPerChunk, fmtInt, 'µs', budgets ? bench.maxCpuRatio : undefined))
      rows.push(ratioRow(bench, `memory per held stream, ${label}`, m.kibPerStream, pipe.kibPerStream, fmtInt, 'KiB', budgets ? bench.maxMemoryRatio : undefined))
      rows.push(ratioRow(bench, `chunk delay p99 at ${STREAMS} streams, ${label}`, m.delayP99, pipe.delayP99, fmtMs, 'ms', budgets ? bench.maxDelayRatio : undefined))
    }
    const details = measured.map(([label, , m]) => ({
      bench: bench.name,
      side: label,
      streams: String(STREAMS),
      events: fmtInt(m.events),
      usPerChunk: m.usPerChunk === null ? 'n/a' : fmtInt(m.usPerChunk),
      relayCpu: pct(m.relayCpu),
      kibPerStream: m.kibPerStream === null ? 'n/a' : `${fmtInt(m.kibPerStream)}${m.heldSamples ? '' : ' (peak)'}`,
      idle: (m.idle / 1024).toFixed(1),
      held: (m.held / 1024).toFixed(1),
      delayP50: fmtMs(m.delayP50),
      delayP99: fmtMs(m.delayP99),
      delayMax: fmtMs(m.delayMax),
      upstreamCpu: pct(m.upstreamCpu),
      otherCpu: otherPct(m.otherCpu),
      noisy: m.otherCpu !== null && m.otherCpu > NOISY,
    }))

    // Whole relayed requests: an upstream that answers at once (20 content chunks when streamed), the kernel and a raw
    // Fastify relay in front of it, each pinned to core 0 while it is measured (the upstream to core 1).
    context.write(' whole requests:')
    const fast = await servers.start('fake-openai', { BENCH_UPSTREAM_CHUNKS: String(WHOLE_CHUNKS) })
    const raw = await servers.start('fastify-relay', { BENCH_UPSTREAM_URL: fast.url })
    const kern = await servers.start('kernel-openai', { BENCH_UPSTREAM_URL: fast.url })
    const pinned = pin(fast, 1) && pin(raw, 0) && pin(kern, 0)
    for (const [server, body] of [[raw, JSON_BODY], [kern, JSON_BODY], [raw, STREAM_BODY], [kern, STREAM_BODY]]) {
      const answer = await probe(server, { path: PATH, body })
      if (answer.status !== 200) fail(`${server.name}: status ${answer.status}: ${answer.text.slice(0, 200)}`)
      const streamed = body === STREAM_BODY
      if (streamed ? !answer.text.endsWith('data: [DONE]\n\n') || (answer.text.match(/"content":"( )?w"/g) ?? []).length !== WHOLE_CHUNKS : !answer.text.includes('"content":"w w')) {
        fail(`${server.name}: unexpected answer ${answer.text.slice(0, 300)}`)
      }
    }
    const whole = {}
    for (const [mode, body] of [['non-streamed', JSON_BODY], [`streamed (${WHOLE_CHUNKS} chunks)`, STREAM_BODY]]) {
      for (const [side, server] of [['raw', raw], ['kernel', kern]]) {
        await load(server, { path: PATH, body, connections: WHOLE_CONNECTIONS, duration: context.warmup })
        const r = await load(server, { path: PATH, body, connections: WHOLE_CONNECTIONS, duration: context.duration })
        if (r.non2xx || r.errors || r.timeouts) fail(`${server.name} ${mode}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`)
        whole[`${mode} ${side}`] = r
        context.write(` ${mode} ${side} ${fmtInt(r.rps)} req/s;`)
      }
      const k = whole[`${mode} kernel`]
      const b = whole[`${mode} raw`]
      rows.push({
        bench: bench.name,
        metric: `whole relayed requests, ${mode}, req/s (${WHOLE_CONNECTIONS} connections${pinned ? ', relay pinned to one core' : ''})`,
        figure: fmtInt(k.rps),
        baseline: `${fmtInt(b.rps)} (raw Fastify relay)`,
        ratio: `${(k.rps / b.rps).toFixed(2)}×`,
        budget: `≥ ${bench.minWholeRatio}×`,
        result: k.rps / b.rps >= bench.minWholeRatio ? 'PASS' : 'MISS',
      })
      rows.push({
        bench: bench.name,
        metric: `whole relayed requests, ${mode}, relay CPU µs/request`,
        figure: fmtInt(k.serverUsPerReq),
        baseline: `${fmtInt(b.serverUsPerReq)} (raw Fastify relay)`,
        ratio: `${(k.serverUsPerReq / b.serverUsPerReq).toFixed(2)}×`,
        budget: '-',
        result: 'info',
      })
    }
    context.write('\n')
    return { rows, tables: [{ key: 'relay', columns: RELAY_COLUMNS, rows: details }], notes: [] }
  } finally {
    client.stop()
    await servers.stopAll()
  }
}

function relayMethod(bench, context) {
  return (
    `Relay (relay): a fake OpenAI upstream (bench/servers/fake-openai.mjs) holds each streamed completion open: role chunk at ` +
    `once, then ${CHUNKS} content chunks, finish, usage and [DONE], one event every ${INTERVAL_MS} ms; each content chunk's ` +
    `text is its send time. Three relays, each its own process, in front of it: node:http piping the upstream's bytes ` +
    `(bench/servers/pass-through.mjs, the floor), bare Fastify + the openai SDK re-serialising each chunk ` +
    `(bench/servers/sdk-proxy.mjs), and the kernel + @robutler/plugin-openai to agent 'bench' with no skills ` +
    `(bench/servers/kernel-openai.mjs). A client process (bench/servers/relay-client.mjs) opens ${STREAMS} streams through ` +
    `each relay in turn (starts spread over ${SPREAD_MS} ms, one socket each) after a warm-up of a tenth as many. CPU per ` +
    `relayed chunk: the relay's user+system time (/proc/<pid>/stat) over the run ÷ SSE events relayed. Memory per held ` +
    `stream: median VmRSS (sampled every ${RSS_EVERY_MS} ms while every stream is open) minus the idle VmRSS after the ` +
    `warm-up, ÷ ${STREAMS}. Chunk delay: receive time minus send time of each content chunk, each stream's first ${SKIP} ` +
    `left out, exact nearest-rank p99. Whole requests: an upstream answering at once, the kernel against bare Fastify ` +
    `relaying over a pooled keep-alive node:http agent (bench/servers/fastify-relay.mjs), each pinned to core 0 (taskset), ` +
    `autocannon with ${WHOLE_CONNECTIONS} connections, ${context.warmup} s warm-up and ${context.duration} s measured, ` +
    `non-streamed and streamed (${WHOLE_CHUNKS} content chunks).`
  )
}
