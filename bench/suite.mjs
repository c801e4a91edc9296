// What bench/run.mjs and bench/compare.mjs share: the context benchmarks run in, choosing them by a filter, and
// running them one after the other so that one that fails is reported and the rest still run.
import { errorRow } from './report.mjs'

/** Seconds of warm-up before each measurement, on each server. */
const WARMUP_SECONDS = 2

/**
 * The benchmarks whose id or name contains `filter` (case-insensitive; all of them without one), and the context
 * they run in: { duration } (BENCH_DURATION, seconds each measurement lasts), { warmup } (seconds of warm-up
 * before each), { write } for progress on stdout. A usage error is printed and answered as null.
 */
export function prepare(benchmarks, filter, env = process.env) {
  const duration = Number(env.BENCH_DURATION ?? 10)
  if (!Number.isFinite(duration) || duration <= 0) {
    console.error(`BENCH_DURATION must be a positive number of seconds, got '${env.BENCH_DURATION}'`)
    return null
  }
  const part = filter?.toLowerCase()
  const selected = benchmarks.filter((b) => !part || b.id.includes(part) || b.name.toLowerCase().includes(part))
  if (selected.length === 0) {
    console.error(`no benchmark matches '${filter}'; benchmarks: ${benchmarks.map((b) => b.id).join(', ')}`)
    return null
  }
  return { selected, context: { duration, warmup: WARMUP_SECONDS, write: (text) => process.stdout.write(text) } }
}

/**
 * Runs `run(bench)` for each benchmark in turn; one that throws is printed and gets an ERROR row. Resolves with
 * { results, broken } (broken: some benchmark could not run).
 */
export async function runEach(selected, run, context) {
  const results = []
  let broken = false
  for (const bench of selected) {
    try {
      results.push(await run(bench))
    } catch (error) {
      broken = true
      context.write('\n')
      console.error(`${bench.name}: ${error.stack ?? error}`)
      results.push({ rows: [errorRow(bench, error)] })
    }
  }
  return { results, broken }
}
