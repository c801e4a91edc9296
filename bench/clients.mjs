// The latency benchmarks' own clients over node:http (autocannon reports neither time to first byte nor a probe
// schedule): one timed request, closed loops of them, a probe schedule, and percentiles of the raw samples.
import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Nearest-rank percentiles (ms) of raw samples: { n, p50, p90, p99, max, mean }. */
export function percentiles(samples) {
  const n = samples.length
  if (n === 0) return { n: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN }
  const sorted = Float64Array.from(samples).sort()
  const at = (p) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]
  let sum = 0
  for (const v of sorted) sum += v
  return { n, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1], mean: sum / n }
}

/**
 * One HTTP request on `agent`; resolves with { status, text, ttfb, total } in ms from the moment it was sent
 * (ttfb: the first body byte; for an empty body, the end). Never rejects: a failure is { error }.
 */
export function timedRequest(agent, url, { method = 'GET', headers = {}, body, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now()
    let settled = false
    const finish = (value) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(value)
    }
    const req = httpRequest(url, { method, agent, headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let ttfb = null
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => {
        if (ttfb === null) ttfb = performance.now() - t0
        text += chunk
      })
      res.on('end', () => {
        const total = performance.now() - t0
        finish({ status: res.statusCode, text, ttfb: ttfb ?? total, total })
      })
      res.on('error', (error) => finish({ error }))
    })
    const timer = setTimeout(() => {
      req.destroy(new Error(`no whole answer within ${timeoutMs} ms`))
    }, timeoutMs)
    req.on('error', (error) => finish({ error }))
    req.end(body)
  })
}

/**
 * A keep-alive agent of `sockets` connections. Pass the same one to the warm-up and the measurement, so the
 * measured window starts with its connections open and accepted (a server busy on its main thread accepts about
 * one new connection per event-loop turn, so fresh connections would measure its accept queue).
 */
export function keepAliveAgent(sockets) {
  return new HttpAgent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets })
}

/**
 * Closed-loop load: `connections` loops over one keep-alive agent (one socket each; `agent` to reuse one, else
 * its own), each sending the request and waiting for its whole answer, until `duration` seconds have passed; requests still in flight then finish (each
 * has a `timeoutMs` deadline). `check(answer)` returns null for a right answer or the reason it is wrong.
 * Resolves with { count, rps, ttfb: [ms…], total: [ms…], failures, firstFailure }.
 */
export async function closedLoop({ url, method = 'POST', headers = {}, body, connections, duration, check, timeoutMs = 10_000, agent: given, staggerMs = 0 }) {
  const agent = given ?? keepAliveAgent(connections)
  const ttfb = []
  const total = []
  let failures = 0
  let firstFailure = null
  const t0 = performance.now()
  const deadline = t0 + duration * 1000
  // `staggerMs`: connection i starts i/connections of it late, so requests that each take about that long
  // arrive spread out rather than in waves of `connections` at once.
  async function loop(_, i) {
    if (staggerMs > 0) await new Promise((resolve) => setTimeout(resolve, (i * staggerMs) / connections))
    while (performance.now() < deadline) {
      const answer = await timedRequest(agent, url, { method, headers, body, timeoutMs })
      let wrong
      try {
        wrong = answer.error ? String(answer.error.message ?? answer.error) : check(answer)
      } catch (error) {
        wrong = `unreadable answer (${error.message}): ${String(answer.text).slice(0, 200)}`
      }
      if (wrong) {
        failures++
        firstFailure ??= wrong
        continue
      }
      ttfb.push(answer.ttfb)
      total.push(answer.total)
    }
  }
  try {
    await Promise.all(Array.from({ length: connections }, loop))
  } finally {
    if (!given) agent.destroy()
  }
  const wall = (performance.now() - t0) / 1000
  return { count: total.length, rps: total.length / wall, ttfb, total, failures, firstFailure }
}

/**
 * Probes `url` with GET every `intervalMs` on one keep-alive connection of its own (`agent` to reuse one), for
 * `duration` seconds. A
 * probe goes at its scheduled time, or as soon as the one before it has answered when that was later. `latency`
 * counts from the scheduled time (so a stalled server is charged for the probes it kept from being sent:
 * no coordinated omission); `service` from the moment the probe was actually sent.
 */
export async function probeLoop({ url, intervalMs, duration, timeoutMs = 10_000, agent: given }) {
  const agent = given ?? keepAliveAgent(1)
  const latency = []
  const service = []
  let failures = 0
  let firstFailure = null
  const t0 = performance.now()
  const end = t0 + duration * 1000
  try {
    for (let k = 0; ; k++) {
      const scheduled = t0 + k * intervalMs
      if (scheduled >= end) break
      const wait = scheduled - performance.now()
      if (wait > 0) await sleep(wait)
      const sent = performance.now()
      const answer = await timedRequest(agent, url, { timeoutMs })
      const done = performance.now()
      if (answer.error || answer.status !== 200) {
        failures++
        firstFailure ??= answer.error ? String(answer.error.message ?? answer.error) : `status ${answer.status}`
        continue
      }
      latency.push(done - scheduled)
      service.push(done - sent)
    }
  } finally {
    if (!given) agent.destroy()
  }
  return { latency, service, failures, firstFailure }
}
