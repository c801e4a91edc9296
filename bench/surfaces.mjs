// What the protocol-surface benchmarks (messages-surface, responses-surface) share: Chat Completions as the
// baseline side, the alternating order, closed loops on one connection, and the "added over chat" row.
import { closedLoop, percentiles } from './clients.mjs'
import { fail, shape } from './answers.mjs'
import { pairedSeconds } from './overhead.mjs'
import { fmtMs } from './report.mjs'

export const CHAT_BODY = JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'hello world' }] })
export const FIFTY_WORDS = Array.from({ length: 50 }, (_, i) => `word${i}`).join(' ')
export const CHAT_STREAM = JSON.stringify({ model: 'echo', stream: true, messages: [{ role: 'user', content: FIFTY_WORDS }] })
/** Chat (base) and the surface (subject) alternate, so drift of the machine falls on both. */
export const ORDER = ['base', 'subject', 'base', 'subject', 'base']

/** A whole chat answer of 'hello world'; its shape for the report. */
export function checkChat({ status, text }) {
  if (status !== 200) fail(`chat: status ${status}: ${text.slice(0, 200)}`)
  const body = JSON.parse(text)
  if (body.choices?.[0]?.message?.content !== 'hello world') fail(`chat: unexpected body ${text.slice(0, 200)}`)
  return shape(body)
}

/**
 * Closed loops on one keep-alive connection (`agent`), side by side in ORDER, each after a warm-up: every sample of
 * a side pooled. A side is { label, url, body, check, total? } — `total` pools whole latencies instead of TTFB.
 */
export async function loopRuns(sides, context, agent) {
  const samples = { base: [], subject: [] }
  for (const key of ORDER) {
    const side = sides[key]
    const options = { url: side.url, body: side.body, headers: { 'content-type': 'application/json' }, connections: 1, check: side.check, agent }
    await closedLoop({ ...options, duration: context.warmup })
    const run = await closedLoop({ ...options, duration: pairedSeconds(context) })
    if (run.failures > 0) fail(`${side.label}: ${run.failures} failures, first: ${run.firstFailure}`)
    samples[key].push(...(side.total ? run.total : run.ttfb))
    context.write(` ${side.label} p50 ${fmtMs(percentiles(side.total ? run.total : run.ttfb).p50)} ms`)
  }
  return { base: percentiles(samples.base), subject: percentiles(samples.subject) }
}

/** A summary row: the subject's p50 minus the base's, against a budget of at most `maxMs` added. */
export function addedRow(bench, metric, { base, subject }, maxMs) {
  const added = subject.p50 - base.p50
  return {
    bench: bench.name,
    metric,
    figure: `${fmtMs(subject.p50)} ms (p90 ${fmtMs(subject.p90)}, n ${subject.n})`,
    baseline: `${fmtMs(base.p50)} ms (p90 ${fmtMs(base.p90)}, n ${base.n})`,
    ratio: `${added >= 0 ? '+' : ''}${fmtMs(added)} ms`,
    budget: `≤ ${maxMs} ms`,
    result: added <= maxMs ? 'PASS' : 'MISS',
  }
}
