// kernel-json, kernel-stream: the kernel (bench/servers/kernel.mjs, plugin-local's echo agent) against bare Fastify
// sending the same bytes (bench/servers/baseline.mjs), under autocannon, in the order baseline, kernel, baseline.
import { checkJson, checkStream, JSON_BODY, PATH, STREAM_BODY } from '../answers.mjs'
import { startServer, stopServer } from '../lib.mjs'
import { cpuRow, DETAIL_COLUMNS, measureSide, overheadDetail } from '../overhead.mjs'
import { fmtInt, fmtMs } from '../report.mjs'

export const kernelJson = {
  id: 'kernel-json',
  name: 'kernel overhead, JSON',
  methodKey: 'overhead',
  body: JSON_BODY,
  check: checkJson,
  connections: 50,
  minRatio: 0.7,
  maxP99: 5,
  calibrateUs: 10,
  // Shown under the table when the budget is missed (from bench/profile.mjs, 2 cores, Node 20; re-profile after changes).
  why: {
    'req/s':
      "Why (when it misses): a fixed ~20 µs of CPU per request over bare Fastify (the 'server CPU µs/req' row), so the " +
      'ratio depends on the machine: 0.84× where bare Fastify costs ~100 µs/req (a slow 2-core VM), 0.54–0.6× where it ' +
      "costs ~28 µs. perf (cpu-clock, node --perf-basic-prof) on the kernel: the request log line ≈ 3.4 µs " +
      "(pino's formatting and write; its per-request child logger 0.8 µs more), the onRequest/onResponse hooks and four " +
      'extra headers ≈ 2 µs, the agent path (chatCompletions → completeChat → completeTurn, plugin-local) ≈ 2 µs, body ' +
      "validation and promise hops; and a part that is the benchmark's own: on loopback the server's writev pays for " +
      'waking the client, which idles more the slower the server is (the wake-up cost 7.4 µs per kernel response, 2.0 µs ' +
      "per bare-Fastify one). The calibration rows show it: bare Fastify busy-waiting 10 µs per request measures ~+20 µs " +
      'of CPU and ~0.6×, so on such a machine 0.70× leaves room for only ~6 µs of real work per request. The kernel ' +
      "gathers its log lines itself rather than through sonic-boom's batching, which measured its whole pending buffer " +
      'on every line: 3.5–4.7 µs/req less.',
    p99:
      "Why: 50 connections in a closed loop queue behind one another (mean latency ≈ 50 ÷ req/s, Little's law), and p99 is " +
      "about 2–3× the mean on both sides: on the 2-core machine profiled, bare Fastify's own p99 was 8–12 ms, above the 5 ms " +
      "budget, so the row compares with it (the ratio column); the kernel's p99 was 1.2–1.4× the baseline's.",
  },
  run: (context) => runOverhead(kernelJson, context),
  method: (context) => overheadMethod(kernelJson, context),
}

export const kernelStream = {
  id: 'kernel-stream',
  name: 'kernel overhead, stream',
  methodKey: 'overhead',
  body: STREAM_BODY,
  check: checkStream,
  connections: 50,
  minRatio: 0.6,
  why: {
    'req/s':
      "Why (when it misses): the cost is per chunk: an answer's 52 chunks come one by one out of plugin-local's async " +
      "generator (a promise and a microtask each, awaited by the kernel's streamTurn and streamChat) where the baseline " +
      'writes them in one synchronous loop (bench/profile.mjs stream kernel).',
  },
  run: (context) => runOverhead(kernelStream, context),
  method: (context) => overheadMethod(kernelStream, context),
}

/** Start a server, check its answer, warm it up, measure it, stop it. */
async function measure(serverName, bench, context, env = {}) {
  const server = await startServer(serverName, { env })
  try {
    const side = { label: serverName, server, path: PATH, body: bench.body, check: bench.check }
    return await measureSide(side, { connections: bench.connections, seconds: context.duration, warmup: context.warmup })
  } finally {
    await stopServer(server)
  }
}

async function runOverhead(bench, context) {
  const { write } = context
  write(`${bench.name}: baseline`)
  const baseline1 = await measure('baseline', bench, context)
  write(` ${fmtInt(baseline1.rps)} req/s, kernel`)
  const kernel = await measure('kernel', bench, context)
  write(` ${fmtInt(kernel.rps)} req/s, baseline`)
  const baseline2 = await measure('baseline', bench, context)
  write(` ${fmtInt(baseline2.rps)} req/s`)
  // Calibration: bare Fastify doing a known amount of extra work per request, to read the kernel's figures against.
  const calibrated = bench.calibrateUs ? await measure('baseline', bench, context, { BENCH_BASELINE_BURN_US: String(bench.calibrateUs) }) : null
  if (calibrated) write(`, baseline + ${bench.calibrateUs} µs ${fmtInt(calibrated.rps)} req/s`)
  write('\n')
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
  rows.push(...cpuRow(bench, [kernel], [baseline1, baseline2]))
  if (calibrated) {
    const label = `bare Fastify + ${bench.calibrateUs} µs of busy-wait per request (calibration)`
    rows.push({
      bench: bench.name,
      metric: `req/s, ${label}`,
      figure: fmtInt(calibrated.rps),
      baseline: `${fmtInt(baselineRps)} (bare Fastify)`,
      ratio: `${(calibrated.rps / baselineRps).toFixed(2)}×`,
      budget: '-',
      result: 'info',
    })
    rows.push(...cpuRow(bench, [calibrated], [baseline1, baseline2]).map((row) => ({ ...row, metric: `server CPU µs/req, ${label}` })))
  }
  const details = [
    ['baseline #1', baseline1],
    ['kernel', kernel],
    ['baseline #2', baseline2],
    ...(calibrated ? [[`baseline + ${bench.calibrateUs} µs busy-wait`, calibrated]] : []),
  ].map(([side, r]) => overheadDetail(bench, side, r))
  return { rows, tables: [{ key: 'overhead', columns: DETAIL_COLUMNS, rows: details }], notes }
}

function overheadMethod(bench, context) {
  return (
    `Kernel overhead (kernel-json, kernel-stream): autocannon (programmatic, one worker) drives ${bench.connections} ` +
    `connections, ${context.warmup} s warm-up then ${context.duration} s measured, in the order baseline, kernel, baseline; the ratio ` +
    `is kernel req/s over the mean of the two baselines (the baseline column: mean (#1 / #2)). Kernel: plugin-local (local/echo); ` +
    `baseline: bare Fastify (same package, logger off) sending answers of the same shape (checked before each run) and size ` +
    `(see bytes/resp). Calibration (kernel-json): then the same bare Fastify busy-waiting a known time per request ` +
    `(BENCH_BASELINE_BURN_US) — on loopback a server's added work costs it more than that work (its sends wake a client that ` +
    `idles more), so this row says what a given ratio means in µs of real work.`
  )
}
