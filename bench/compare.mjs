#!/usr/bin/env node
// The kernel of this tree against the kernel of another checkout of this repo, side by side in the same run: for a
// change that must not slow the kernel down (its budget: kernel JSON and 50-chunk stream req/s each within 5% of the
// code before it). A report, not a test: a miss is printed as MISS and the exit code stays 0 (1 when a benchmark
// could not run at all); nothing is written to bench/RESULTS.md.
//   node bench/compare.mjs <dir> [filter]    dir: the other checkout, built (npm ci && npx tsc -b there);
//                                            filter: a part of kernel-json's or kernel-stream's id or name
//   BENCH_DURATION=10                        as for run.mjs; each run lasts 0.6 of it, after 2 s of warm-up
// For each of kernel-json and kernel-stream, three servers start once and stay up: bare Fastify
// (bench/servers/baseline.mjs), the other checkout's kernel (A) and this tree's (B). Both kernels run this tree's
// bench/servers/kernel.mjs, with BENCH_APP_DIR set to their checkout, so each loads its own @robutler/kernel and
// plugins from its own node_modules; the other checkout's bench/ is not used. Runs go in the order bare Fastify, A,
// B, A, B, A, bare Fastify (autocannon, the load and answer checks of run.mjs): drift of the machine falls on every
// side's mean alike. Rows: B ÷ A req/s against ≥ 0.95× (PASS/MISS), server CPU µs/req B against A (the steadier
// figure), and each kernel ÷ bare Fastify (info, as run.mjs reports it).
// To see where a difference comes from, profile each side: BENCH_APP_DIR=<dir> node bench/profile.mjs json kernel.
import { existsSync } from 'node:fs'
import { basename, resolve } from 'node:path'
import { PATH } from './answers.mjs'
import { kernelJson, kernelStream } from './benchmarks/kernel-overhead.mjs'
import { REPO_DIR, serverGroup } from './lib.mjs'
import { alternate, cpuRow, DETAIL_COLUMNS, pairedSeconds, ratioRow, shapeMismatch } from './overhead.mjs'
import { collect, printReport } from './report.mjs'
import { prepare, runEach } from './suite.mjs'

/** The budget: this tree's req/s at least this share of the other checkout's. */
const MIN_RATIO = 0.95
const ORDER = ['baseline', 'a', 'b', 'a', 'b', 'a', 'baseline']
const WHY =
  "Why: this tree's kernel spends more per request than the other checkout's: compare their 'server CPU µs/req' " +
  '(steadier than req/s on a busy machine), re-run to tell a real gap from drift, and profile each side ' +
  '(BENCH_APP_DIR=<dir> node bench/profile.mjs json kernel).'

/** kernel-json or kernel-stream, A against B against bare Fastify; resolves with { rows, tables, notes }. */
async function compareOne(bench, other, context) {
  const servers = serverGroup()
  try {
    const side = (label, server) => ({ label, server, path: PATH, body: bench.body, check: bench.check })
    const a = await servers.start('kernel', { BENCH_APP_DIR: other.dir })
    const b = await servers.start('kernel', { BENCH_APP_DIR: REPO_DIR })
    if (a.ready.kernel === b.ready.kernel) throw new Error(`both sides loaded the same kernel, ${a.ready.kernel}`)
    const sides = { baseline: side('bare Fastify', await servers.start('baseline')), a: side(other.label, a), b: side('this tree', b) }
    context.write(`${bench.name}:`)
    const { runs, details } = await alternate(bench, sides, ORDER, pairedSeconds(context), context)
    context.write('\n')
    const notes = [shapeMismatch(bench, sides.b.label, runs.b[0], sides.a.label, runs.a[0])].filter(Boolean)
    const rows = [
      ratioRow(bench, `req/s, this tree ÷ ${other.label}`, runs.b, runs.a, MIN_RATIO),
      ...cpuRow(bench, runs.b, runs.a).map((row) => ({ ...row, metric: `server CPU µs/req, this tree ÷ ${other.label}` })),
      ratioRow(bench, `req/s, ${other.label} ÷ bare Fastify`, runs.a, runs.baseline),
      ratioRow(bench, 'req/s, this tree ÷ bare Fastify', runs.b, runs.baseline),
    ]
    return { rows, tables: [{ key: 'overhead', columns: DETAIL_COLUMNS, rows: details }], notes, kernels: [a.ready.kernel, b.ready.kernel] }
  } finally {
    await servers.stopAll()
  }
}

async function main([dir, filter]) {
  if (!dir) {
    console.error('usage: node bench/compare.mjs <other checkout> [filter]')
    return 2
  }
  const other = { dir: resolve(dir), label: basename(resolve(dir)) }
  if (!existsSync(other.dir)) {
    console.error(`no such folder: ${other.dir}`)
    return 2
  }
  if (other.label === 'this tree') other.label = other.dir
  // A miss here is this tree against the other, not the kernel against bare Fastify: its own why.
  const prepared = prepare([kernelJson, kernelStream].map((b) => ({ ...b, why: { 'this tree ÷': WHY } })), filter)
  if (!prepared) return 2
  const { selected, context } = prepared
  console.log(
    `A: ${other.dir}\nB: ${resolve(REPO_DIR)} (this tree)\n` +
      `Method: ${ORDER.length} runs a benchmark in the order ${ORDER.map((key) => ({ baseline: 'bare Fastify', a: 'A', b: 'B' })[key]).join(', ')}, ` +
      `each ${context.warmup} s warm-up then ${pairedSeconds(context)} s measured, ${kernelJson.connections} connections; ` +
      `ratios of the mean req/s.\n`,
  )
  const { results, broken } = await runEach(selected, async (bench) => {
    const out = await compareOne(bench, other, context)
    console.log(`  A ran ${out.kernels[0]}, B ran ${out.kernels[1]}`)
    return out
  }, context)
  printReport(collect(results), selected)
  return broken ? 1 : 0
}

process.exitCode = await main(process.argv.slice(2))
