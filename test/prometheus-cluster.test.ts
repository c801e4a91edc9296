// plugin-prometheus under `robutler start --workers 2`: /metrics on any worker is the sum over both workers.
import { request } from 'node:http'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanEnv, killIfAlive, startServer, type RunningServer } from './helpers/cli-process.js'
import { findPromtool, parseMetrics, PROMTOOL_MISSING, promtoolCheck, prometheusApp, total } from './helpers/prometheus.js'

const N = 40
const CHAT_ROUTE = '/:agent/chat/completions'

/** One request on a fresh connection (so the cluster may hand it to either worker). */
function send(url: string, method: 'GET' | 'POST', body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode!, text }))
    })
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('plugin-prometheus with robutler start --workers 2', () => {
  let app: Awaited<ReturnType<typeof prometheusApp>>
  let server: RunningServer
  const pids = new Set<number>()

  beforeAll(async () => {
    app = await prometheusApp(['local', 'cpu'])
    const config = {
      server: { workerThreads: 1, drainTimeout: 5 },
      plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-prometheus': {} },
      skills: { 'robutler-skill-cpu': { isolate: false } },
      agents: [{ name: 'echo', model: 'local/echo', skills: { 'robutler-skill-cpu': {} } }],
    }
    const file = join(app.dir, 'robutler.config.json')
    await writeFile(file, JSON.stringify(config))
    server = await startServer(['--config', file, '--port', '0', '--workers', '2'], { env: cleanEnv() })
    await until(() => server.logLines().filter((l) => /listening on/.test(l.msg ?? '')).length >= 2, 15_000, 'both workers to listen')
    for (let i = 0; i < N; i++) {
      const { status, text } = await send(`${server.address}/echo/chat/completions`, 'POST', { messages: [{ role: 'user', content: '/tool whoami {}' }] })
      expect(status).toBe(200)
      pids.add(JSON.parse(JSON.parse(text).choices[0].message.content).pid)
    }
  })
  afterAll(async () => {
    // The primary first (it would replace a dead worker), then any worker still there, each by its pid.
    killIfAlive(server?.child)
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Already gone with its primary: nothing to stop.
      }
    }
    await app?.cleanup()
  })

  it('both workers served the requests', () => {
    expect(pids.size).toBe(2)
    expect(pids.has(server.child.pid!)).toBe(false)
  })

  it('GET /metrics on any worker returns counts equal to the requests sent', async () => {
    // Each scrape on a fresh connection: over several, both workers answer one.
    for (let i = 0; i < 6; i++) {
      const { status, text } = await send(`${server.address}/metrics`, 'GET')
      expect(status).toBe(200)
      const samples = parseMetrics(text)
      expect(total(samples, 'robutler_metrics_processes_reporting')).toBe(2)
      expect(total(samples, 'robutler_http_requests_total', { method: 'POST', route: CHAT_ROUTE, status: '200', agent: 'echo' })).toBe(N)
      expect(total(samples, 'robutler_http_request_duration_seconds_count', { route: CHAT_ROUTE, agent: 'echo' })).toBe(N)
      expect(total(samples, 'robutler_agent_requests_total', { agent: 'echo', status: '200' })).toBe(N)
      expect(total(samples, 'robutler_tool_calls_total', { skill: 'robutler-skill-cpu', tool: 'whoami', status: 'ok' })).toBe(N)
      expect(total(samples, 'robutler_llm_calls_total', { provider: 'local', model: 'echo', status: 'ok' })).toBe(2 * N)
      expect(total(samples, 'robutler_worker_pool_tasks_completed_total')).toBe(N)
      expect(total(samples, 'robutler_server_info')).toBe(1)
      // Earlier scrapes are counted too, each by the worker that served it: i of them so far.
      expect(total(samples, 'robutler_http_requests_total', { route: '/metrics', status: '200' })).toBe(i)
    }
  })

  it('kill -9 of a worker, twice: the summed counters never go down (what the dead counted stays); gauges are the living ones', async () => {
    const scrapeAll = async () => {
      const { status, text } = await send(`${server.address}/metrics`, 'GET')
      expect(status).toBe(200)
      return parseMetrics(text)
    }
    const workerPids = () => {
      const started = server.logLines().filter((l) => l.msg === 'worker started').map((l) => l.workerPid as number)
      const gone = new Set(server.logLines().filter((l) => l.msg === 'worker died; replacing it').map((l) => l.workerPid as number))
      return started.filter((pid) => !gone.has(pid))
    }
    // Every series that is a counter (or a histogram's count), summed: none may ever read less than before.
    let last = new Map<string, number>()
    const expectNoCounterWentDown = (samples: ReturnType<typeof parseMetrics>) => {
      const now = new Map<string, number>()
      for (const s of samples) {
        if (!/_total$|_count$|_bucket$|_sum$/.test(s.name) || s.name.startsWith('robutler_process_') || s.name.startsWith('robutler_nodejs_')) continue
        const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`
        now.set(key, (now.get(key) ?? 0) + s.value)
      }
      // A histogram's _sum is a double: summed over the workers' lines in another order, it may differ in its last bit.
      for (const [key, value] of last) {
        const slack = key.includes('_sum[') ? Math.abs(value) * 1e-12 : 0
        expect((now.get(key) ?? 0) + slack, key).toBeGreaterThanOrEqual(value)
      }
      last = now
    }
    // Both workers answer a scrape (on fresh connections either may take it): the primary has heard from each.
    for (let i = 0; i < 4; i++) {
      const samples = await scrapeAll()
      expect(total(samples, 'robutler_metrics_processes_reporting')).toBe(2)
      expectNoCounterWentDown(samples)
    }
    for (let kill = 1; kill <= 2; kill++) {
      const [victim] = workerPids()
      process.kill(victim!, 'SIGKILL')
      pids.add(victim!)
      await until(() => workerPids().length === 2 && !workerPids().includes(victim!), 15_000, 'the replacement worker')
      for (const pid of workerPids()) pids.add(pid)
      await until(() => server.logLines().filter((l) => /listening on/.test(l.msg ?? '')).length >= 2 + kill, 15_000, 'the replacement to listen')
      for (let i = 0; i < 4; i++) {
        const samples = await scrapeAll()
        expectNoCounterWentDown(samples)
        // The chat requests the dead worker served are still in the sum; its in-flight gauge is not.
        expect(total(samples, 'robutler_http_requests_total', { method: 'POST', route: CHAT_ROUTE, status: '200', agent: 'echo' })).toBe(N)
        expect(total(samples, 'robutler_tool_calls_total', { skill: 'robutler-skill-cpu', tool: 'whoami', status: 'ok' })).toBe(N)
        expect(total(samples, 'robutler_server_info')).toBe(1)
        expect(total(samples, 'robutler_worker_pool_threads')).toBe(2)
      }
    }
  })

  it('promtool check metrics accepts the aggregate', async (ctx) => {
    const promtool = findPromtool()
    if (!promtool) {
      if (process.env.CI === 'true') throw new Error(`${PROMTOOL_MISSING}; under CI=true this check must run`)
      ctx.skip(PROMTOOL_MISSING)
    }
    const { text } = await send(`${server.address}/metrics`, 'GET')
    const { code, output } = await promtoolCheck(promtool!, text)
    expect(output).toBe('')
    expect(code).toBe(0)
  })
})
