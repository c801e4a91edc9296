// Shared helpers: start a server script in its own process, drive it with autocannon from this process,
// sample the server's CPU time, and stop it by its PID. Every wait here has a deadline.
import { fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, realpath, rm, symlink } from 'node:fs/promises'
import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))
const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 5_000

/**
 * Forks bench/servers/<name>.mjs; resolves with { child, port, url, ready } once it reports its port (`ready`: the
 * whole first IPC message, which may carry more than the port, e.g. startup timings).
 */
export async function startServer(name, { execArgv = [], env = {} } = {}) {
  const script = new URL(`./servers/${name}.mjs`, import.meta.url)
  const child = fork(fileURLToPath(script), [], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    execArgv,
    env: { ...process.env, ...env },
    // stdout is ignored (logs must never cost the parent); stderr is kept so a crash is visible.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  try {
    const ready = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no port within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS)
      child.once('message', (message) => { clearTimeout(timer); resolve(message) })
      child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`${name} exited early (${code ?? signal})`)) })
      child.once('error', (error) => { clearTimeout(timer); reject(error) })
    })
    const port = ready.port
    return { name, child, port, url: `http://127.0.0.1:${port}`, ready }
  } catch (error) {
    await stopServer({ name, child })
    throw error
  }
}

/** SIGTERM to the child's PID (it closes and exits), SIGKILL to the same PID after a deadline. */
export async function stopServer({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try { process.kill(child.pid, 'SIGTERM') } catch { return }
  let timer
  const late = new Promise((resolve) => { timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS) })
  if ((await Promise.race([exited, late])) === 'late') {
    try { process.kill(child.pid, 'SIGKILL') } catch {}
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS))])
  }
  clearTimeout(timer)
  if (child.connected) child.disconnect()
}

const TICKS = 100 // USER_HZ on Linux
/** The process's user+system CPU seconds from /proc, or null where /proc is not available. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS
  } catch {
    return null
  }
}

/** The process's resident set size in KiB (VmRSS from /proc/<pid>/status), or null where /proc is not available. */
export function rssKiB(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) : null
  } catch {
    return null
  }
}

/** Busy CPU seconds of the whole machine (all cores) from /proc/stat, or null. */
function machineBusySeconds() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
    return (user + nice + system + irq + softirq + steal) / TICKS
  } catch {
    return null
  }
}

/**
 * Runs autocannon (in this process, one worker) against the server; returns the figures plus the CPU share
 * (of one core) the server, this load generator and the rest of the machine used during the run.
 */
export async function load(server, { path, body, connections, duration, headers = {} }) {
  const serverCpu0 = cpuSeconds(server.child.pid)
  const machine0 = machineBusySeconds()
  const ownCpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const result = await autocannon({
    url: server.url + path,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    connections,
    duration,
    timeout: 10,
  })
  const wall = Number(process.hrtime.bigint() - t0) / 1e9
  const serverCpu1 = cpuSeconds(server.child.pid)
  const machine1 = machineBusySeconds()
  const ownCpu = process.cpuUsage(ownCpu0)
  const serverCpu = serverCpu0 === null || serverCpu1 === null ? null : (serverCpu1 - serverCpu0) / wall
  const loaderCpu = (ownCpu.user + ownCpu.system) / 1e6 / wall
  return {
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mean: result.latency.average,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    bytesPerReq: result.requests.total > 0 ? Math.round(result.throughput.total / result.requests.total) : 0,
    serverCpu,
    // Server CPU time per answered request: much less sensitive to other load on the machine than req/s.
    serverUsPerReq: serverCpu === null || result.requests.total === 0 ? null : ((serverCpu1 - serverCpu0) * 1e6) / result.requests.total,
    loaderCpu,
    // Everything else the machine did meanwhile (other processes, network softirq not charged to ours):
    // a noise indicator, in cores.
    otherCpu: machine0 === null || machine1 === null || serverCpu === null ? null : Math.max(0, (machine1 - machine0) / wall - serverCpu - loaderCpu),
  }
}

/** One request with fetch; returns { status, headers, text } (10 s deadline). */
export async function probe(server, { path, body, headers = {} }) {
  const response = await fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    signal: AbortSignal.timeout(10_000),
  })
  return { status: response.status, headers: response.headers, text: await response.text() }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers of the latency benchmarks (worker-offload, provider-ttfb): their own closed-loop clients over node:http
// (autocannon reports neither time to first byte nor a probe schedule), IPC questions to a running server, CPU
// windows over several processes, and percentiles of raw samples.

export const REPO_DIR = fileURLToPath(new URL('..', import.meta.url))

/**
 * A temp app folder whose node_modules symlink the given packages (install name → folder relative to the repo),
 * as `npm install` would; for fixture packages that the workspace root does not link. Resolves with
 * { dir, cleanup }.
 */
export async function linkedApp(packages) {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'robutler-bench-')))
  try {
    for (const [name, folder] of Object.entries(packages)) {
      const target = join(dir, 'node_modules', name)
      await mkdir(dirname(target), { recursive: true })
      await symlink(join(REPO_DIR, folder), target, 'dir')
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

/** Sends { cmd } to a server child over IPC and resolves with its answer ({ cmd, ... }); `timeoutMs` deadline. */
export function ask(server, cmd, timeoutMs = 5_000) {
  const { child } = server
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (message?.cmd !== cmd) return
      done()
      resolve(message)
    }
    const onExit = (code, signal) => { done(); reject(new Error(`${server.name} exited (${code ?? signal}) before answering '${cmd}'`)) }
    const timer = setTimeout(() => { done(); reject(new Error(`${server.name}: no answer to '${cmd}' within ${timeoutMs} ms`)) }, timeoutMs)
    function done() {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
    child.send({ cmd })
  })
}

/**
 * Starts a CPU window over some processes (servers, by `server.child.pid`); `stop()` answers each one's CPU in
 * cores (by name), this process's (the load generator) and the rest of the machine's, over the same wall time.
 */
export function cpuWindow(servers) {
  const t0 = process.hrtime.bigint()
  const before = servers.map((s) => cpuSeconds(s.child.pid))
  const machine0 = machineBusySeconds()
  const own0 = process.cpuUsage()
  return {
    stop() {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9
      const after = servers.map((s) => cpuSeconds(s.child.pid))
      const machine1 = machineBusySeconds()
      const own = process.cpuUsage(own0)
      const byServer = {}
      let known = true
      let serversTotal = 0
      servers.forEach((s, i) => {
        const share = before[i] === null || after[i] === null ? null : (after[i] - before[i]) / wall
        byServer[s.name] = share
        if (share === null) known = false
        else serversTotal += share
      })
      const loaderCpu = (own.user + own.system) / 1e6 / wall
      const otherCpu = !known || machine0 === null || machine1 === null ? null : Math.max(0, (machine1 - machine0) / wall - serversTotal - loaderCpu)
      return { wall, byServer, loaderCpu, otherCpu, cpuSecondsOf: (name) => (byServer[name] === null ? null : byServer[name] * wall) }
    },
  }
}

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
