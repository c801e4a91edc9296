// rss: resident memory (VmRSS) idle and while 200 slow streams are open, the kernel against bare Fastify SSE; info.
import { Agent as HttpAgent } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { fail, JSON_HEADERS, PATH, sseEvents, streamChunks, streamedText } from '../answers.mjs'
import { percentiles, timedRequest } from '../clients.mjs'
import { cpuWindow, rssKiB, startServer, stopServer } from '../lib.mjs'
import { fmtInt, fmtMiB, fmtMs, otherPct, pct } from '../report.mjs'

export const rss = {
  id: 'rss',
  name: 'RSS',
  streams: 200,
  words: 100,
  chunkDelayMs: 50,
  settleMs: 1000,
  sampleMs: 50,
  run: (context) => runRss(rss, context),
  method: () => rssMethod(rss),
}

const RSS_COLUMNS = [
  ['bench', 'benchmark'],
  ['side', 'server'],
  ['idle', 'idle MiB'],
  ['peak', 'max MiB'],
  ['after', 'after MiB'],
  ['streams', 'streams'],
  ['together', 'all open at once'],
  ['wholeP50', 'stream p50 s'],
  ['wholeMax', 'stream max s'],
  ['serverCpu', 'server CPU'],
  ['otherCpu', 'other CPU'],
]

/** A streamed answer must echo `words` (the request's words, in order) and end with [DONE]; null when right. */
function streamProblem({ status, text }, words) {
  if (status !== 200) return `status ${status}: ${String(text).slice(0, 200)}`
  const events = sseEvents(text)
  if (events.at(-1) !== '[DONE]') return 'the stream does not end with data: [DONE]'
  const content = streamedText(streamChunks(events))
  return content === words ? null : `the stream echoed ${JSON.stringify(content.slice(0, 80))}…, not the request's words`
}

async function measureRss(bench, side) {
  const server = await startServer(side.server, { env: side.env })
  const pid = server.child.pid
  const agent = new HttpAgent({ keepAlive: false, maxSockets: bench.streams })
  try {
    await sleep(bench.settleMs)
    const idle = rssKiB(pid)
    if (idle === null) fail(`no /proc/${pid}/status: RSS needs Linux`)
    const words = Array.from({ length: bench.words }, (_, i) => `word${i}`).join(' ')
    const body = JSON.stringify({ model: 'x', stream: true, messages: [{ role: 'user', content: words }] })
    let peak = idle
    const sampler = setInterval(() => {
      const rss = rssKiB(pid)
      if (rss !== null && rss > peak) peak = rss
    }, bench.sampleMs)
    const cpu = cpuWindow([server])
    const t0 = performance.now()
    let answers
    try {
      answers = await Promise.all(
        Array.from({ length: bench.streams }, () => timedRequest(agent, server.url + PATH, { method: 'POST', headers: JSON_HEADERS, body, timeoutMs: 60_000 })),
      )
    } finally {
      clearInterval(sampler)
    }
    const wall = performance.now() - t0
    const window = cpu.stop()
    const end = rssKiB(pid)
    if (end > peak) peak = end
    const wrong = answers.map((answer) => (answer.error ? String(answer.error.message) : streamProblem(answer, words))).filter(Boolean)
    if (wrong.length) fail(`${side.label}: ${wrong.length} of ${bench.streams} streams failed, first: ${wrong[0]}`)
    await sleep(bench.settleMs)
    const after = rssKiB(pid)
    // All streams open at once: the first one to finish finished after the last one started answering.
    const together = Math.min(...answers.map((a) => a.total)) > Math.max(...answers.map((a) => a.ttfb))
    return {
      idle,
      peak,
      after,
      wall,
      together,
      whole: percentiles(answers.map((a) => a.total)),
      serverCpu: window.byServer[server.name],
      otherCpu: window.otherCpu,
    }
  } finally {
    agent.destroy()
    await stopServer(server)
  }
}

async function runRss(bench, context) {
  const sides = [
    { key: 'baseline', label: 'bare Fastify SSE', server: 'baseline', env: { BENCH_CHUNK_DELAY_MS: String(bench.chunkDelayMs) } },
    { key: 'kernel', label: 'kernel', server: 'kernel', env: { BENCH_KERNEL_CHUNK_DELAY_MS: String(bench.chunkDelayMs) } },
  ]
  const results = {}
  context.write(`${bench.name}:`)
  for (const side of sides) {
    results[side.key] = await measureRss(bench, side)
    context.write(` ${side.label} idle ${fmtMiB(results[side.key].idle)} MiB, ${bench.streams} streams ${fmtMiB(results[side.key].peak)} MiB;`)
  }
  context.write('\n')
  const k = results.kernel
  const b = results.baseline
  const row = (metric, kernelKiB, baseKiB, unit = 'MiB') => ({
    bench: bench.name,
    metric,
    figure: unit === 'MiB' ? `${fmtMiB(kernelKiB)} MiB` : `${fmtInt(kernelKiB)} KiB`,
    baseline: `${unit === 'MiB' ? fmtMiB(baseKiB) : fmtInt(baseKiB)} ${unit} (bare Fastify)`,
    ratio: `${(kernelKiB / baseKiB).toFixed(2)}×`,
    budget: '-',
    result: 'info',
  })
  const rows = [
    row('RSS idle, after start', k.idle, b.idle),
    row(`RSS max, ${bench.streams} concurrent streams`, k.peak, b.peak),
    row(`RSS added per stream (max − idle) ÷ ${bench.streams}`, (k.peak - k.idle) / bench.streams, (b.peak - b.idle) / bench.streams, 'KiB'),
  ]
  const details = sides.map((side) => {
    const r = results[side.key]
    return {
      bench: bench.name,
      side: side.label,
      idle: fmtMiB(r.idle),
      peak: fmtMiB(r.peak),
      after: fmtMiB(r.after),
      streams: String(bench.streams),
      together: r.together ? 'yes' : 'no',
      wholeP50: fmtMs(r.whole.p50 / 1000),
      wholeMax: fmtMs(r.whole.max / 1000),
      serverCpu: pct(r.serverCpu),
      otherCpu: otherPct(r.otherCpu),
    }
  })
  const notes = []
  for (const side of sides) {
    if (!results[side.key].together) notes.push(`RSS: ${side.label}: not all ${bench.streams} streams were open at the same time (one ended before another began).`)
  }
  return { rows, tables: [{ key: 'rss', columns: RSS_COLUMNS, rows: details }], notes }
}

function rssMethod(bench) {
  return (
    `RSS (rss): the kernel (bench/servers/kernel.mjs with plugin-local { chunkDelayMs: ${bench.chunkDelayMs} }) and bare ` +
    `Fastify (bench/servers/baseline.mjs, sleeping ${bench.chunkDelayMs} ms before each SSE delta as plugin-local does), one ` +
    `after the other, each a fresh process: VmRSS from /proc/<pid>/status ${bench.settleMs} ms after start (idle), then ` +
    `${bench.streams} streamed completions sent at once (one connection each) with a ${bench.words}-word message, so each ` +
    `lasts about ${((bench.words + 1) * bench.chunkDelayMs) / 1000} s; VmRSS sampled every ${bench.sampleMs} ms until all have ` +
    `ended (max), their content checked; 'after' ${bench.settleMs} ms later.`
  )
}
