// Shared helpers: start a server script in its own process, drive it with autocannon from this process,
// sample the server's CPU time, and stop it by its PID. Every wait here has a deadline.
import { fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))
const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 5_000

/** Forks bench/servers/<name>.mjs; resolves with { child, port, url } once it reports its port. */
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
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no port within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS)
      child.once('message', (message) => { clearTimeout(timer); resolve(message.port) })
      child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`${name} exited early (${code ?? signal})`)) })
      child.once('error', (error) => { clearTimeout(timer); reject(error) })
    })
    return { name, child, port, url: `http://127.0.0.1:${port}` }
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
export async function load(server, { path, body, connections, duration }) {
  const serverCpu0 = cpuSeconds(server.child.pid)
  const machine0 = machineBusySeconds()
  const ownCpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const result = await autocannon({
    url: server.url + path,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
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
export async function probe(server, { path, body }) {
  const response = await fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(10_000),
  })
  return { status: response.status, headers: response.headers, text: await response.text() }
}
