// The report: number formats, aligned text and Markdown tables, and the whole of a run's output (the summary table,
// a line per missed budget, the detail tables, notes, method texts) printed and written to bench/RESULTS.md.
import { writeFileSync } from 'node:fs'
import { availableParallelism, cpus } from 'node:os'
import { join } from 'node:path'
import { BENCH_DIR } from './lib.mjs'

/** Other work on the machine above this share of a core during a measurement makes its figures suspect. */
export const NOISY = 0.3

export function fmtInt(n) {
  return Math.round(n).toLocaleString('en-US')
}
export function fmtMs(n) {
  return Number.isInteger(n) ? String(n) : n.toFixed(2)
}
export function fmtNum(n) {
  return n >= 100 ? fmtInt(n) : n.toFixed(1)
}
export function fmtMiB(kib) {
  return (kib / 1024).toFixed(1)
}
export function pct(share) {
  return share === null || share === undefined ? 'n/a' : `${Math.round(share * 100)}%`
}
export function otherPct(share) {
  return share === null ? 'n/a' : `${Math.round(share * 100)}%${share > NOISY ? ' (noisy)' : ''}`
}

/** Rows of objects → an aligned plain-text table and a Markdown table. */
export function tables(columns, rows) {
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
/** The detail table of the benchmarks that time a few runs of something (startup, discovery). */
export const TIMING_COLUMNS = [
  ['bench', 'benchmark'],
  ['side', 'side'],
  ['runs', 'runs ms'],
  ['startMedian', 'median ms'],
  ['startMin', 'min ms'],
  ['startMax', 'max ms'],
  ['importMedian', 'import median ms'],
  ['processMedian', 'process start → listening median ms'],
]

/** A summary row for a benchmark that could not run. */
export function errorRow(bench, error) {
  return { bench: bench.name, metric: '-', figure: '-', baseline: '-', ratio: '-', budget: '-', result: `ERROR: ${error.message}` }
}

/** One line for each missed budget: which, by how much, and why (the benchmark's `why`, from a profile). */
function missedLines(rows, benchmarks) {
  return rows
    .filter((r) => r.result === 'MISS')
    .map((r) => {
      const bench = benchmarks.find((b) => b.name === r.bench)
      const why = Object.entries(bench?.why ?? {}).find(([key]) => r.metric.includes(key))?.[1] ?? 'Why: not profiled yet (bench/profile.mjs).'
      return `Missed: ${r.bench}, ${r.metric}: ${r.figure} against ${r.budget} (ratio ${r.ratio}). ${why}`
    })
}

/** The note on measurements taken while the rest of the machine was busy, or null. */
function noiseNote(measured) {
  const noisy = measured.filter((d) => d.noisy).length
  if (!noisy) return null
  return (
    `${noisy} of ${measured.length} measurements ran while other work used over ${NOISY * 100}% of a core ` +
    `('other CPU'); their throughput and latency are suspect, CPU per request ('server CPU µs/req', 'kernel CPU µs/stream') ` +
    `is the steadier figure. Re-run on a quiet machine.`
  )
}

const COMMON_METHOD =
  `Method: each server runs in its own child process (child_process.fork) on 127.0.0.1 and reports its port over IPC; ` +
  `the load comes from this process. Kernels run createServer with logLevel 'info', their default log destination (stdout, pino async in 4 KiB batches), which is /dev/null here. ` +
  `CPU columns come from /proc, in % of one core: the servers, this process (the load) and 'other' = the rest of the machine.`

/**
 * Merges what benchmarks returned ({ rows, tables?, notes? } each; a failed one only its error row): the summary
 * rows, the detail tables merged by key in the order benchmarks first produced them, and the notes, with the noise
 * note last.
 */
export function collect(results) {
  const rows = results.flatMap((out) => out.rows)
  const byKey = new Map()
  for (const table of results.flatMap((out) => out.tables ?? [])) {
    if (!byKey.has(table.key)) byKey.set(table.key, { columns: table.columns, rows: [] })
    byKey.get(table.key).rows.push(...table.rows)
  }
  const details = [...byKey.values()]
  const notes = results.flatMap((out) => out.notes ?? [])
  const noise = noiseNote(details.flatMap((table) => table.rows))
  if (noise) notes.push(noise)
  return { rows, details, notes }
}

/**
 * Prints the summary table, a line per missed budget (why: from `benchmarks`), the detail tables, the notes and the
 * count of misses; returns the same pieces as Markdown.
 */
export function printReport({ rows, details, notes }, benchmarks) {
  const summary = tables(SUMMARY_COLUMNS, rows)
  const detail = details.map((table) => tables(table.columns, table.rows))
  const missed = missedLines(rows, benchmarks)
  console.log(`\n${summary.text}\n\n${missed.map((line) => `${line}\n\n`).join('')}${detail.map((t) => `${t.text}\n\n`).join('')}`)
  for (const note of notes) console.log(`Note: ${note}\n`)
  const misses = rows.filter((r) => r.result === 'MISS').length
  if (misses) console.log(`*** MISS: ${misses} budget${misses > 1 ? 's' : ''} missed (a report, not a test: exit code stays 0) ***`)
  return {
    md:
      `${summary.md}\n\n${missed.map((line) => `${line}\n\n`).join('')}${detail.map((t) => `${t.md}\n\n`).join('')}` +
      notes.map((note) => `Note: ${note}\n\n`).join(''),
  }
}

/**
 * Prints a run's report and writes it to bench/RESULTS.md with the method texts. `results` holds what the selected
 * benchmarks returned, `filter` the command line's filter, if any.
 */
export function writeReport({ selected, results, context, filter }) {
  const { md } = printReport(collect(results), selected)
  // One method text per kind of benchmark (kernel-json and kernel-stream share theirs), in the order selected.
  const methods = new Map()
  for (const bench of selected) {
    const key = bench.methodKey ?? bench.id
    if (!methods.has(key)) methods.set(key, bench.method(context))
  }
  const cpu = cpus()[0]?.model?.trim() ?? 'unknown'
  const file = join(BENCH_DIR, 'RESULTS.md')
  writeFileSync(
    file,
    `# Benchmark results\n\n` +
      `- Date: ${new Date().toISOString()}\n` +
      `- Node: ${process.version} (${process.platform}/${process.arch})\n` +
      `- CPUs: ${availableParallelism()} × ${cpu}\n` +
      `- Duration: ${context.duration} s per measurement${filter ? `; filter: \`${filter}\`` : ''}\n\n` +
      `${md}${COMMON_METHOD}\n\n${[...methods.values()].join('\n\n')}\n`,
  )
  console.log(`wrote ${file}`)
}
