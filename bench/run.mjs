#!/usr/bin/env node
// Robutler benchmarks: the kernel against bare Fastify serving the same bytes. A report, not a test: a missed
// budget is printed as MISS and the exit code stays 0 (it is 1 only when a benchmark could not run at all).
//   node bench/run.mjs [filter]      filter: a case-insensitive part of a benchmark's id or name
//   BENCH_DURATION=10                seconds each measurement lasts (warm-up: 2 s more per server)
// Where the kernel spends its time: node bench/profile.mjs [json|stream] [kernel|baseline] (--cpu-prof summary).
import { writeFileSync } from 'node:fs'
import { availableParallelism, cpus } from 'node:os'
import { join } from 'node:path'
import { BENCH_DIR, load, probe, startServer, stopServer } from './lib.mjs'

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
  return { rows, details, notes }
}

function fmtInt(n) {
  return Math.round(n).toLocaleString('en-US')
}
function fmtMs(n) {
  return Number.isInteger(n) ? String(n) : n.toFixed(2)
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
  ['figure', 'kernel'],
  ['baseline', 'baseline mean (#1 / #2)'],
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

const filter = process.argv[2]?.toLowerCase()
const selected = BENCHMARKS.filter((b) => !filter || b.id.includes(filter) || b.name.toLowerCase().includes(filter))
if (selected.length === 0) {
  console.error(`no benchmark matches '${process.argv[2]}'; benchmarks: ${BENCHMARKS.map((b) => b.id).join(', ')}`)
  process.exit(2)
}

const rows = []
const details = []
const notes = []
let broken = false
for (const bench of selected) {
  try {
    const out = await runBenchmark(bench)
    rows.push(...out.rows)
    details.push(...out.details)
    notes.push(...out.notes)
  } catch (error) {
    broken = true
    process.stdout.write('\n')
    console.error(`${bench.name}: ${error.stack ?? error}`)
    rows.push({ bench: bench.name, metric: '-', figure: '-', baseline: '-', ratio: '-', budget: '-', result: `ERROR: ${error.message}` })
  }
}

const summary = tables(SUMMARY_COLUMNS, rows)
const detail = tables(DETAIL_COLUMNS, details)
const misses = rows.filter((r) => r.result === 'MISS').length
console.log(`\n${summary.text}\n\n${detail.text}\n`)
const noisy = details.filter((d) => d.noisy).length
const noiseNote = noisy
  ? `${noisy} of ${details.length} measurements ran while other work used over ${NOISY * 100}% of a core ` +
    `('other CPU'); their req/s and latency are suspect, 'server CPU µs/req' is the steadier figure. Re-run on a quiet machine.`
  : ''
if (noiseNote) notes.push(noiseNote)
for (const note of notes) console.log(`Note: ${note}\n`)
if (misses) console.log(`*** MISS: ${misses} budget${misses > 1 ? 's' : ''} missed (a report, not a test: exit code stays 0) ***`)

const cpu = cpus()[0]?.model?.trim() ?? 'unknown'
const method =
  `Method: each server runs in its own child process (child_process.fork) on 127.0.0.1; autocannon ` +
  `(programmatic, one worker, in the parent) drives ${selected[0].connections} connections, ${WARMUP_SECONDS} s warm-up ` +
  `then ${duration} s measured, in the order baseline, kernel, baseline; the ratio is kernel req/s over the mean of the two ` +
  `baselines. Kernel: createServer with plugin-local (local/echo), logLevel 'info', logs to /dev/null (pino async); ` +
  `baseline: bare Fastify (same package, logger off) sending answers of the same shape (checked before each run) and size (see bytes/resp). ` +
  `CPU columns come from /proc: server and autocannon in % of one core, 'other' = the rest of the machine.`
writeFileSync(
  join(BENCH_DIR, 'RESULTS.md'),
  `# Benchmark results\n\n` +
    `- Date: ${new Date().toISOString()}\n` +
    `- Node: ${process.version} (${process.platform}/${process.arch})\n` +
    `- CPUs: ${availableParallelism()} × ${cpu}\n` +
    `- Duration: ${duration} s per measurement${filter ? `; filter: \`${process.argv[2]}\`` : ''}\n\n` +
    `${summary.md}\n\n${detail.md}\n\n` +
    notes.map((note) => `Note: ${note}\n\n`).join('') +
    `${method}\n`,
)
console.log(`wrote ${join(BENCH_DIR, 'RESULTS.md')}`)
process.exitCode = broken ? 1 : 0
