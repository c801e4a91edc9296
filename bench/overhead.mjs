// The autocannon benchmarks' shared parts: one measured run of a running server (its answer checked, a warm-up,
// the load), runs of several sides in an alternating order, the paired benchmarks' runner, and their rows.
import { checkJson, fail, JSON_BODY } from './answers.mjs'
import { load, probe } from './lib.mjs'
import { fmtInt, fmtMs, NOISY, otherPct, pct } from './report.mjs'

export const DETAIL_COLUMNS = [
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

/**
 * One measured run on a running server: `side` is { label, server, path, body, headers, check, before? }.
 * `side.before` runs first (a dynamic agent's first load); the answer is checked (`check` returns its shape, kept
 * for comparing sides); then `warmup` s of load, then `seconds` s measured.
 */
export async function measureSide(side, { connections, seconds, warmup }) {
  await side.before?.()
  const answer = await probe(side.server, { path: side.path, body: side.body, headers: side.headers })
  const answerShape = side.check(answer)
  const options = { path: side.path, body: side.body, headers: side.headers, connections }
  await load(side.server, { ...options, duration: warmup })
  const result = await load(side.server, { ...options, duration: seconds })
  if (result.non2xx || result.errors || result.timeouts) {
    fail(`${side.label}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts under load`)
  }
  return { ...result, answerShape, answerBytes: Buffer.byteLength(answer.text) }
}

/**
 * Measures `sides` (by key) in `order` (keys, each as often as it appears), `seconds` each, on servers that stay
 * up throughout; progress goes to `context.write`. Resolves with each key's runs in order and a detail row a run
 * ('<label> #n').
 */
export async function alternate(bench, sides, order, seconds, context) {
  const runs = Object.fromEntries(Object.keys(sides).map((key) => [key, []]))
  const details = []
  for (const key of order) {
    const side = sides[key]
    const r = await measureSide(side, { connections: bench.connections, seconds, warmup: context.warmup })
    runs[key].push(r)
    details.push(overheadDetail(bench, `${side.label} #${runs[key].length}`, r))
    context.write(` ${side.label} ${fmtInt(r.rps)} req/s`)
  }
  return { runs, details }
}

// A paired benchmark alternates base, subject, base, subject, base: the base's runs sit around the subject's, so a
// machine that drifts steadily during the benchmark moves both means alike. Each run lasts 0.6 of the duration.
const PAIRED_ORDER = ['base', 'subject', 'base', 'subject', 'base']

/** How long each run of an alternating benchmark lasts, in whole seconds. */
export function pairedSeconds(context) {
  return Math.max(1, Math.round(context.duration * 0.6))
}

/** The method text's account of a paired benchmark's runs. */
export function pairedRuns(base, subject, context) {
  return `runs in the order ${PAIRED_ORDER.map((which) => (which === 'base' ? base : subject)).join(', ')}, each ${context.warmup} s warm-up then ${pairedSeconds(context)} s measured`
}

/**
 * A paired benchmark: the kernel-overhead JSON benchmark (same body, local/echo) with one thing changed, against the
 * same benchmark without it in the same run. `setup()` starts the server(s) and resolves with
 * { base, subject, cleanup, notes? }, each side { label, server, path, headers, before? }; notes() runs after the
 * measurements (extra checks, as notes).
 */
export async function runPaired(bench, setup, context) {
  const { base, subject, cleanup, notes: extraNotes } = await setup()
  const sides = { base: { ...base, body: JSON_BODY, check: checkJson }, subject: { ...subject, body: JSON_BODY, check: checkJson } }
  const notes = []
  let measured
  try {
    context.write(`${bench.name}:`)
    measured = await alternate(bench, sides, PAIRED_ORDER, pairedSeconds(context), context)
    context.write('\n')
    if (extraNotes) notes.push(...(await extraNotes()))
  } finally {
    await cleanup()
  }
  const { runs, details } = measured
  const shapeNote = shapeMismatch(bench, sides.subject.label, runs.subject[0], sides.base.label, runs.base[0])
  if (shapeNote) notes.push(shapeNote)
  const rows = [ratioRow(bench, `req/s, ${subject.label} ÷ ${base.label}`, runs.subject, runs.base, bench.minRatio)]
  rows.push(...cpuRow(bench, runs.subject, runs.base))
  return { rows, tables: [{ key: 'overhead', columns: DETAIL_COLUMNS, rows: details }], notes }
}

/** A note when two sides' answers differ in shape (so their speeds compare different work), or null. */
export function shapeMismatch(bench, label, run, baseLabel, baseRun) {
  if (run.answerShape === baseRun.answerShape) return null
  return `${bench.name}: the ${label} answer has not the ${baseLabel} answer's shape.\n  ${label}: ${run.answerShape}\n  ${baseLabel}: ${baseRun.answerShape}`
}

function meanRps(runs) {
  return runs.reduce((sum, r) => sum + r.rps, 0) / runs.length
}

/**
 * The req/s row of runs against base runs (the means of each, every run listed): PASS/MISS against `minRatio`, or
 * info without one.
 */
export function ratioRow(bench, metric, runs, baseRuns, minRatio) {
  const baselineRps = meanRps(baseRuns)
  const measuredRps = meanRps(runs)
  const ratio = measuredRps / baselineRps
  return {
    bench: bench.name,
    metric,
    figure: `${fmtInt(measuredRps)} (${runs.map((r) => fmtInt(r.rps)).join(' / ')})`,
    baseline: `${fmtInt(baselineRps)} (${baseRuns.map((r) => fmtInt(r.rps)).join(' / ')})`,
    ratio: `${ratio.toFixed(2)}×`,
    budget: minRatio === undefined ? '-' : `≥ ${minRatio.toFixed(2)}×`,
    result: minRatio === undefined ? 'info' : ratio >= minRatio ? 'PASS' : 'MISS',
  }
}

/**
 * The 'server CPU µs/req' info row: the mean of the measurements against the mean of the baselines taken around
 * them (none when a CPU figure is missing). CPU time per request barely moves with other load on the machine: the same
 * overhead as the req/s ratio, seen steadier.
 */
export function cpuRow(bench, measured, baselines) {
  const all = [...measured, ...baselines]
  if (all.some((r) => r.serverUsPerReq === null)) return []
  const mean = (rs) => rs.reduce((sum, r) => sum + r.serverUsPerReq, 0) / rs.length
  const list = (rs) => (rs.length > 1 ? ` (${rs.map((r) => fmtInt(r.serverUsPerReq)).join(' / ')})` : '')
  const baselineUs = mean(baselines)
  const measuredUs = mean(measured)
  return [{
    bench: bench.name,
    metric: 'server CPU µs/req',
    figure: `${fmtInt(measuredUs)}${list(measured)}`,
    baseline: `${fmtInt(baselineUs)}${list(baselines)}`,
    ratio: `${(baselineUs / measuredUs).toFixed(2)}× speed`,
    budget: '-',
    result: 'info',
  }]
}

/** A row of the overhead detail table. */
export function overheadDetail(bench, side, r) {
  return {
    bench: bench.name,
    side,
    rps: fmtInt(r.rps),
    p50: fmtMs(r.p50),
    p99: fmtMs(r.p99),
    mean: fmtMs(r.mean),
    bytes: fmtInt(r.bytesPerReq),
    serverCpu: pct(r.serverCpu),
    usPerReq: r.serverUsPerReq === null ? 'n/a' : fmtInt(r.serverUsPerReq),
    loaderCpu: pct(r.loaderCpu),
    otherCpu: otherPct(r.otherCpu),
    noisy: r.otherCpu !== null && r.otherCpu > NOISY,
  }
}
