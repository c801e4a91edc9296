// provider-ttfb: what the kernel adds to the time to first byte of a streamed completion from an upstream. The
// kernel with plugin-openai against the same fake upstream hit directly: streams held open (the budget) and
// saturated, beside bare Fastify + the same SDK (the floor) and a node:http pass-through (any hop).
import { fail, JSON_HEADERS, sseEvents, streamChunks, streamedText } from '../answers.mjs'
import { closedLoop, keepAliveAgent, percentiles } from '../clients.mjs'
import { ask, cpuWindow, probe, serverGroup } from '../lib.mjs'
import { fmtInt, fmtMs, NOISY, otherPct, pct } from '../report.mjs'

export const providerTtfb = {
  id: 'provider-ttfb',
  name: 'provider TTFB',
  methodKey: 'ttfb',
  connections: 50,
  maxAddedP50: 2,
  maxAddedP99: 5,
  why: {
    'added TTFB':
      "Why (when it misses): mostly the openai SDK, not the kernel: bare Fastify passing the same streams through the same " +
      "SDK (bench/servers/sdk-proxy.mjs, no agent, no runtime, no logs) adds nearly as much (the 'the floor' rows) at ~90% of " +
      "the kernel's CPU per stream (the 'kernel CPU µs/stream' column). In-process, the SDK and its fetch cost ~340 µs of CPU " +
      'per instant stream on a 2-core machine: request building (its headers, a debug line formatted even when ' +
      'off, an AbortController and timer per call), node:http, the SSE decoding; replacing its SSE decoding with a plain ' +
      'parser of the node stream saved nothing measurable, nor did a leaner Response body. On a slower machine (3× per ' +
      'request) the same code added +3.5 ms p50 / +19 ms p99 with the floor at +2.8 / +15 ms. Tail (p99): a ' +
      "proxy hop alone (the 'any hop' rows: node:http piping bytes, no SDK) adds +1.5 to +2.6 ms p99 on 2 shared cores; in " +
      "a 20 s run 7 of the kernel's and 13 of the floor's 20 slowest streams overlapped a GC pause of the server " +
      '(scavenges of 3–4 ms: 50 live streams leave ~1.6 MB to copy each time), and --max-semi-space-size 2, 4 or 64 did ' +
      'not change that. Across seven runs on one machine the kernel stayed within −0.7 to +1.3 ms (median +0.3) of the floor at p99.',
  },
  run: (context) => runProviderTtfb(providerTtfb, context),
  method: (context) => ttfbMethod(providerTtfb, context),
}

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

const TTFB_UNLOADED_SECONDS = 3
// The held-open upstream's gap between events: 4 gaps (2 words, finish, usage + [DONE]) keep each stream open ~0.4 s.
const TTFB_HELD_DELAY_MS = 100
// Held-open streams come at only ~100/s (50 connections, ~0.5 s each): the sides take turns in this many rounds of
// half the duration each, so each side's p99 comes from ~2,000 streams and the machine's drift falls on all of them.
const TTFB_HELD_ROUNDS = 4
const TTFB_MESSAGES = [{ role: 'user', content: 'hello world' }]

function checkTtfbStream({ status, text }) {
  if (status !== 200) return `status ${status}: ${text.slice(0, 200)}`
  if (!text.endsWith('data: [DONE]\n\n')) return `the stream does not end with data: [DONE]: ${text.slice(-200)}`
  return null
}

/** The whole answer must be right (not only its end) before speeds are compared. */
function checkTtfbContent(text) {
  const chunks = streamChunks(sseEvents(text))
  const content = streamedText(chunks)
  if (content !== 'hello world') fail(`expected the upstream's 'hello world', got '${content}' in ${text.slice(0, 300)}`)
  if (chunks[0]?.choices?.[0]?.delta?.role !== 'assistant') fail('the first chunk carries no assistant role')
}

/** One closed-loop measurement (warm-up, then `seconds` measured) of streamed completions at `url`. */
async function measureTtfb(side) {
  const [r] = await measureTtfbRounds([side], { ...side, rounds: 1 })
  return r
}

/**
 * Closed-loop measurements of streamed completions, one per side (`{ url, body, servers, upstream }`), taken in
 * `rounds` rounds of `seconds` each, the sides in turn within a round; each side keeps its connections and is
 * warmed up once. A side's samples and CPU are pooled over its rounds: drift of the machine between rounds falls
 * on every side alike, and the percentiles come from rounds × more samples.
 */
async function measureTtfbRounds(sides, { connections, seconds, warmup, rounds, staggerMs = 0 }) {
  const runs = sides.map((side) => ({
    side,
    agent: keepAliveAgent(connections),
    ttfb: [], total: [], wall: 0, cpu: {}, loader: 0, other: 0, upstreamStreams: 0,
  }))
  try {
    for (const run of runs) {
      const warm = await closedLoop({ ...optionsOf(run), duration: warmup })
      if (warm.failures) fail(`${run.side.url} warm-up: ${warm.failures} failed streams, first: ${warm.firstFailure}`)
    }
    for (let round = 0; round < rounds; round++) {
      for (const run of runs) {
        const streams0 = (await ask(run.side.upstream, 'stats')).streams
        const window = cpuWindow(run.side.servers)
        const r = await closedLoop({ ...optionsOf(run), duration: seconds })
        const cpu = window.stop()
        run.upstreamStreams += (await ask(run.side.upstream, 'stats')).streams - streams0
        if (r.failures) fail(`${run.side.url}: ${r.failures} of ${r.failures + r.count} streams failed, first: ${r.firstFailure}`)
        run.ttfb = run.ttfb.concat(r.ttfb)
        run.total = run.total.concat(r.total)
        run.wall += cpu.wall
        for (const [name, share] of Object.entries(cpu.byServer)) {
          run.cpu[name] = share === null || run.cpu[name] === null ? null : (run.cpu[name] ?? 0) + share * cpu.wall
        }
        run.loader += cpu.loaderCpu * cpu.wall
        run.other = run.other === null || cpu.otherCpu === null ? null : run.other + cpu.otherCpu * cpu.wall
      }
    }
  } finally {
    for (const run of runs) run.agent.destroy()
  }
  return runs.map((run) => {
    const byServer = Object.fromEntries(Object.entries(run.cpu).map(([name, seconds]) => [name, seconds === null ? null : seconds / run.wall]))
    return {
      connections,
      rounds,
      rps: run.total.length / run.wall,
      count: run.total.length,
      upstreamStreams: run.upstreamStreams,
      ttfb: percentiles(run.ttfb),
      whole: percentiles(run.total),
      cpu: {
        wall: run.wall,
        byServer,
        loaderCpu: run.loader / run.wall,
        otherCpu: run.other === null ? null : run.other / run.wall,
        cpuSecondsOf: (name) => (run.cpu[name] ?? null),
      },
    }
  })

  function optionsOf(run) {
    return { url: run.side.url, method: 'POST', headers: JSON_HEADERS, body: run.side.body, connections, check: checkTtfbStream, agent: run.agent, staggerMs }
  }
}

/**
 * One added-TTFB row per percentile: the kernel against the mean of the direct measurements (the two around it,
 * or the one taken in the same rounds).
 */
function addedTtfbRows(bench, label, viaKernel, directs, budgets) {
  return ['p50', 'p99'].map((p) => {
    const base = directs.reduce((sum, r) => sum + r.ttfb[p], 0) / directs.length
    const added = viaKernel.ttfb[p] - base
    const max = budgets?.[p]
    const which = directs.length > 1 ? directs.map((r) => fmtMs(r.ttfb[p])).join(' / ') : 'the same rounds'
    return {
      bench: bench.name,
      metric: `added TTFB ${p}, ${label} (kernel ${fmtMs(viaKernel.ttfb[p])} ms)`,
      figure: `${added >= 0 ? '+' : ''}${fmtMs(added)} ms`,
      baseline: `${fmtMs(base)} ms direct (${which})`,
      ratio: `${(viaKernel.ttfb[p] / base).toFixed(2)}×`,
      budget: max === undefined ? '-' : `≤ +${max} ms`,
      result: max === undefined ? 'info' : added <= max ? 'PASS' : 'MISS',
    }
  })
}

async function runProviderTtfb(bench, context) {
  const servers = serverGroup()
  try {
    // Two upstreams: one that sends a whole stream at once, one that holds each stream open (first chunk at
    // once, then one event every TTFB_HELD_DELAY_MS), each with its own kernel in front.
    const fake = await servers.start('fake-openai', {})
    const kernel = await servers.start('kernel-openai', { BENCH_UPSTREAM_URL: fake.url })
    const heldFake = await servers.start('fake-openai', { BENCH_UPSTREAM_CHUNK_DELAY_MS: String(TTFB_HELD_DELAY_MS) })
    const heldKernel = await servers.start('kernel-openai', { BENCH_UPSTREAM_URL: heldFake.url })
    const heldSdk = await servers.start('sdk-proxy', { BENCH_UPSTREAM_URL: heldFake.url })
    const heldHop = await servers.start('pass-through', { BENCH_UPSTREAM_URL: heldFake.url })
    const directPath = '/v1/chat/completions'
    const kernelPath = '/bench/chat/completions'
    // Direct: the body the kernel sends upstream (plugin-openai adds stream_options.include_usage).
    const directBody = JSON.stringify({ model: 'gpt-bench', messages: TTFB_MESSAGES, stream: true, stream_options: { include_usage: true } })
    const kernelBody = JSON.stringify({ model: 'x', messages: TTFB_MESSAGES, stream: true })
    for (const [server, path, body] of [[fake, directPath, directBody], [kernel, kernelPath, kernelBody], [heldFake, directPath, directBody], [heldKernel, kernelPath, kernelBody], [heldSdk, kernelPath, kernelBody], [heldHop, kernelPath, kernelBody]]) {
      const answer = await probe(server, { path, body })
      const wrong = checkTtfbStream(answer)
      if (wrong) fail(`${server.name}: ${wrong}`)
      checkTtfbContent(answer.text)
    }
    const sides = (direct, viaKernel) => [
      { url: direct.url + directPath, body: directBody, upstream: direct, servers: [direct, viaKernel] },
      { url: viaKernel.url + kernelPath, body: kernelBody, upstream: direct, servers: [direct, viaKernel] },
    ]
    const loaded = { connections: bench.connections, seconds: context.duration, warmup: context.warmup }
    // Held-open streams last ~0.4 s: the connections start spread over that, so streams arrive one by one,
    // not in waves of 50.
    const held = { ...loaded, staggerMs: TTFB_HELD_DELAY_MS * 4 }
    const [heldDirect, heldVia] = sides(heldFake, heldKernel)
    const heldSdkSide = sides(heldFake, heldSdk)[1]
    const heldHopSide = sides(heldFake, heldHop)[1]
    context.write(`${bench.name}: held open (${TTFB_HELD_ROUNDS} rounds of direct, kernel, Fastify + SDK, pass-through)`)
    const [heldD, heldK, heldS, heldP] = await measureTtfbRounds([heldDirect, heldVia, heldSdkSide, heldHopSide], { ...held, seconds: context.duration / 2, rounds: TTFB_HELD_ROUNDS })
    context.write(`: p50 ${[heldD, heldK, heldS, heldP].map((r) => fmtMs(r.ttfb.p50)).join(' / ')} ms; saturated: direct`)
    const [direct, via] = sides(fake, kernel)
    const direct1 = await measureTtfb({ ...loaded, ...direct })
    context.write(` p50 ${fmtMs(direct1.ttfb.p50)} ms, kernel`)
    const viaKernel = await measureTtfb({ ...loaded, ...via })
    context.write(` p50 ${fmtMs(viaKernel.ttfb.p50)} ms, direct`)
    const direct2 = await measureTtfb({ ...loaded, ...direct })
    context.write(` p50 ${fmtMs(direct2.ttfb.p50)} ms; 1 stream: direct`)
    const unloaded = { connections: 1, seconds: Math.min(context.duration, TTFB_UNLOADED_SECONDS), warmup: 1 }
    const direct1c = await measureTtfb({ ...unloaded, ...direct })
    context.write(` p50 ${fmtMs(direct1c.ttfb.p50)} ms, kernel`)
    const kernel1c = await measureTtfb({ ...unloaded, ...via })
    context.write(` p50 ${fmtMs(kernel1c.ttfb.p50)} ms\n`)

    const notes = []
    // One upstream stream per client stream through the kernel (more would mean retries); the counts may differ
    // by the streams in flight at either end of the window.
    for (const r of [heldK, viaKernel, kernel1c]) {
      if (Math.abs(r.upstreamStreams - r.count) > r.connections) {
        notes.push(`${bench.name}: the upstream served ${r.upstreamStreams} streams while the kernel answered ${r.count} (${r.connections} concurrent).`)
      }
    }
    const rows = [
      ...addedTtfbRows(bench, `${bench.connections} streams held open`, heldK, [heldD], { p50: bench.maxAddedP50, p99: bench.maxAddedP99 }),
      ...addedTtfbRows(bench, `${bench.connections} streams held open, bare Fastify + openai SDK (the floor)`, heldS, [heldD]),
      ...addedTtfbRows(bench, `${bench.connections} streams held open, node:http pass-through (any hop)`, heldP, [heldD]),
      ...addedTtfbRows(bench, `${bench.connections} streams, saturated`, viaKernel, [direct1, direct2]),
    ]
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
      metric: `streams/s, ${bench.connections} streams, saturated`,
      figure: fmtInt(viaKernel.rps),
      baseline: `${fmtInt(directRps)} direct (${fmtInt(direct1.rps)} / ${fmtInt(direct2.rps)})`,
      ratio: `${(viaKernel.rps / directRps).toFixed(2)}×`,
      budget: '-',
      result: 'info',
    })
    const usPer = (r, server) => {
      const seconds = r.cpu.cpuSecondsOf(server.name)
      return seconds === null || r.count === 0 ? null : (seconds * 1e6) / r.count
    }
    const kernelUs = usPer(viaKernel, kernel)
    const upstreamUs = (usPer(direct1, fake) + usPer(direct2, fake)) / 2
    if (kernelUs !== null && Number.isFinite(upstreamUs)) {
      rows.push({
        bench: bench.name,
        metric: 'server CPU µs/stream, saturated (kernel; upstream direct)',
        figure: fmtInt(kernelUs),
        baseline: `${fmtInt(upstreamUs)} (upstream)`,
        ratio: `${(kernelUs / upstreamUs).toFixed(1)}×`,
        budget: '-',
        result: 'info',
      })
    }
    const details = [
      ['held open: direct', heldD, heldKernel, heldFake],
      ['held open: kernel', heldK, heldKernel, heldFake],
      ['held open: Fastify + SDK', heldS, heldSdk, heldFake],
      ['held open: pass-through', heldP, heldHop, heldFake],
      ['saturated: direct #1', direct1, kernel, fake],
      ['saturated: kernel', viaKernel, kernel, fake],
      ['saturated: direct #2', direct2, kernel, fake],
      ['direct, 1 stream', direct1c, kernel, fake],
      ['kernel, 1 stream', kernel1c, kernel, fake],
    ].map(([side, r, k, f]) => {
      const onKernel = !side.includes('direct')
      const usPerStream = usPer(r, k)
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
        upstreamCpu: pct(r.cpu.byServer[f.name]),
        kernelCpu: onKernel ? pct(r.cpu.byServer[k.name]) : '-',
        usPerStream: onKernel && usPerStream !== null ? fmtInt(usPerStream) : '-',
        loaderCpu: pct(r.cpu.loaderCpu),
        otherCpu: otherPct(r.cpu.otherCpu),
        noisy: r.cpu.otherCpu !== null && r.cpu.otherCpu > NOISY,
      }
    })
    return { rows, tables: [{ key: 'ttfb', columns: TTFB_COLUMNS, rows: details }], notes }
  } finally {
    await servers.stopAll()
  }
}

function ttfbMethod(bench, context) {
  return (
    `Provider TTFB (provider-ttfb): fake OpenAI upstreams (node:http in child processes, keep-alive) answer a streamed ` +
    `chat completion (role chunk, 2 content chunks, finish chunk, usage chunk when asked, [DONE]): one sends it all at once, ` +
    `one holds each stream open (role chunk at once, then one event every ${TTFB_HELD_DELAY_MS} ms, ~0.4 s a stream). The kernel: ` +
    `@robutler/plugin-openai { apiKey: 'sk-bench', baseURL: '<fake>/v1' }, agent 'bench' on openai/gpt-bench; the floor: bare ` +
    `Fastify + the same openai SDK passing chunks through (bench/servers/sdk-proxy.mjs); any hop: node:http piping the ` +
    `upstream's bytes back (bench/servers/pass-through.mjs). ${bench.connections} closed-loop ` +
    `keep-alive connections (node:http) each POST a streamed completion and read it to [DONE] (its content checked first); ` +
    `TTFB = from sending the request to the first body byte, every request recorded, exact nearest-rank percentiles. Held ` +
    `open (the budget): ${bench.connections} streams open at once, the connections' starts spread over a stream's length so ` +
    `streams arrive one by one; ${context.warmup} s warm-up per side, then ${TTFB_HELD_ROUNDS} rounds of direct, kernel, floor, hop, ` +
    `${context.duration / 2} s each, each side's streams pooled over its rounds (~${Math.round(TTFB_HELD_ROUNDS * context.duration * 50)} streams a ` +
    `side); added TTFB = the side minus direct, per percentile. Saturated (info): instant streams, order direct, kernel, ` +
    `direct — every connection always busy, so TTFB is mostly queueing (≈ streams ÷ throughput); ${context.warmup} s warm-up, ` +
    `${context.duration} s measured each; added TTFB = the side minus the mean of the two directs. The '1 stream' rows ` +
    `(${TTFB_UNLOADED_SECONDS} s each) show the path alone.`
  )
}
