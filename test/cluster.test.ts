// `robutler start --workers 2`: both processes serve, a killed one is replaced, SIGTERM drains all and exits 0.
import { request } from 'node:http'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanEnv, killIfAlive, startServer, type RunningServer } from './helpers/cli-process.js'
import { linkedApp } from './helpers/test-server.js'

/** One chat request on a fresh connection (so the cluster may route it to either worker). */
function ask(address: string, content: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ messages: [{ role: 'user', content }] })
    const req = request(`${address}/cpu/chat/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const pidOf = async (address: string) => {
  const { body } = await ask(address, '/tool whoami {}')
  return JSON.parse(body.choices[0].message.content).pid as number
}

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('robutler start --workers 2', () => {
  let app: Awaited<ReturnType<typeof linkedApp>>
  let server: RunningServer
  const listening = () => server.logLines().filter((l) => /listening on/.test(l.msg ?? ''))

  beforeAll(async () => {
    app = await linkedApp(['local', 'cpu', 'events'])
    const config = {
      server: { workerThreads: 1, drainTimeout: 10 },
      plugins: { '@robutler/plugin-local': {}, 'robutler-plugin-events': {} },
      skills: { 'robutler-skill-cpu': { isolate: false } },
      agents: [{ name: 'cpu', model: 'local/echo', skills: { 'robutler-skill-cpu': {} } }],
    }
    const file = join(app.dir, 'robutler.config.json')
    await writeFile(file, JSON.stringify(config))
    server = await startServer(['--config', file, '--port', '0', '--workers', '2'], { env: cleanEnv() })
    await until(() => listening().length >= 2, 15_000, 'both workers to listen')
  })
  afterAll(async () => {
    killIfAlive(server?.child)
    await app?.cleanup()
  })

  it('both processes serve: distinct pids across requests', async () => {
    const pids = new Set<number>()
    for (let i = 0; i < 12; i++) pids.add(await pidOf(server.address))
    expect(pids.size).toBe(2)
    expect(pids.has(server.child.pid!)).toBe(false)
  })

  it('a plugin gathers one value from every worker (what /metrics aggregation uses)', async () => {
    const pids = new Set<number>()
    for (let i = 0; i < 12; i++) pids.add(await pidOf(server.address))
    const res = await fetch(`${server.address}/test/pids`)
    const body = await res.json()
    expect(new Set(body.pids)).toEqual(pids)
  })

  it('kill -9 of one worker: it is replaced and requests keep succeeding', async () => {
    const before = new Set<number>()
    for (let i = 0; i < 8; i++) before.add(await pidOf(server.address))
    const victim = [...before][0]!
    process.kill(victim, 'SIGKILL')
    await until(() => server.logLines().some((l) => l.msg === 'worker died; replacing it' && l.workerPid === victim), 5_000, 'the primary to see the death')
    await until(() => listening().length >= 3, 10_000, 'a replacement worker to listen')
    const after = new Set<number>()
    for (let i = 0; i < 12; i++) {
      const { status, body } = await ask(server.address, '/tool whoami {}')
      expect(status).toBe(200)
      after.add(JSON.parse(body.choices[0].message.content).pid)
    }
    expect(after.has(victim)).toBe(false)
    expect(after.size).toBe(2)
  })

  it('SIGTERM drains every worker: in-flight requests complete, the primary exits 0', async () => {
    const inflight = Array.from({ length: 4 }, () => ask(server.address, '/tool busy {"ms": 1200}'))
    await new Promise((r) => setTimeout(r, 300))
    server.child.kill('SIGTERM')
    const answers = await Promise.all(inflight)
    for (const { status, body } of answers) {
      expect(status).toBe(200)
      expect(JSON.parse(body.choices[0].message.content)).toMatchObject({ ms: 1200 })
    }
    const exit = await server.exited
    expect(exit.code).toBe(0)
    expect(server.logLines().filter((l) => l.msg === 'worker stopped').every((l) => l.code === 0)).toBe(true)
  })
})
