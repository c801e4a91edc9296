// Shared helpers: start a server script in its own process, drive it with autocannon from this process, ask it
// questions over IPC, sample the CPU time of it, this process and the machine, and stop it by its PID. Every wait
// here has a deadline. The closed-loop latency clients are in clients.mjs.
import { fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, realpath, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))
export const REPO_DIR = fileURLToPath(new URL('..', import.meta.url))
const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 5_000

/**
 * Forks bench/servers/<name>.mjs; resolves with { child, port, url, ready } once it reports its port (`ready`: the
 * whole first IPC message, which may carry more than the port, e.g. startup timings).
 */
export async function startServer(name, { execArgv = [], env = {} } = {}) {
  const script = new URL(`./servers/${name}.mjs`, import.meta.url)
  const child = fork(fileURLToPath(script), [], {
    cwd: REPO_DIR,
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

/**
 * A set of servers started one by one and stopped together: `start(name, env)` is startServer, `stopAll()` stops
 * them in the reverse order.
 */
export function serverGroup() {
  const started = []
  return {
    async start(name, env = {}) {
      const server = await startServer(name, { env })
      started.push(server)
      return server
    },
    async stopAll() {
      for (const server of started.reverse()) await stopServer(server)
    },
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
  const window = cpuWindow([server])
  const result = await autocannon({
    url: server.url + path,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    connections,
    duration,
    timeout: 10,
  })
  const cpu = window.stop()
  const serverSeconds = cpu.cpuSecondsOf(server.name)
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
    serverCpu: cpu.byServer[server.name],
    // Server CPU time per answered request: much less sensitive to other load on the machine than req/s.
    serverUsPerReq: serverSeconds === null || result.requests.total === 0 ? null : (serverSeconds * 1e6) / result.requests.total,
    loaderCpu: cpu.loaderCpu,
    // Everything else the machine did meanwhile (other processes, network softirq not charged to ours):
    // a noise indicator, in cores.
    otherCpu: cpu.otherCpu,
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

/** GET on a running server with fetch: { status, text } (10 s deadline). */
export async function get(server, path, headers = {}) {
  const response = await fetch(server.url + path, { headers, signal: AbortSignal.timeout(10_000) })
  return { status: response.status, text: await response.text() }
}

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
