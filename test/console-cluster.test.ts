// plugin-console under `robutler start --workers 2`: a page load reaches one worker, and still shows every
// process's recent requests and figures (gathered through KernelApi.cluster).
import { request } from 'node:http'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanEnv, killIfAlive, startServer, type RunningServer } from './helpers/cli-process.js'
import { linkedApp } from './helpers/test-server.js'

/** One request on a fresh connection (so the cluster may route it to either worker): status and body text. */
function send(url: string, method: 'GET' | 'POST', body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => resolve({ status: res.statusCode!, text }))
    })
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

async function until(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('console under robutler start --workers 2', () => {
  let app: Awaited<ReturnType<typeof linkedApp>>
  let server: RunningServer

  beforeAll(async () => {
    app = await linkedApp(['local', 'console'])
    const config = {
      server: { workerThreads: 1, urlPrefix: '/api/v1' },
      plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-console': {} },
      agents: [{ name: 'echo', model: 'local/echo' }],
    }
    const file = join(app.dir, 'robutler.config.json')
    await writeFile(file, JSON.stringify(config))
    server = await startServer(['--config', file, '--port', '0', '--workers', '2'], { env: cleanEnv() })
    await until(() => server.logLines().filter((l) => /listening on/.test(l.msg ?? '')).length >= 2, 15_000, 'both workers to listen')
  }, 30_000)

  afterAll(async () => {
    killIfAlive(server?.child)
    await app?.cleanup()
  })

  it("lists both processes' requests, whichever one answers the console", async () => {
    for (let i = 0; i < 24; i++) expect((await send(`${server.address}/api/v1/echo/chat/completions`, 'POST', { messages: [{ role: 'user', content: `n${i}` }] })).status).toBe(200)
    for (let i = 0; i < 4; i++) {
      const answer = await send(`${server.address}/api/v1/console/api/requests?agent=echo`, 'GET')
      expect(answer.status).toBe(200)
      const requests = JSON.parse(answer.text).requests as Array<{ pid: number; time: number }>
      expect(requests).toHaveLength(24)
      expect(new Set(requests.map((r) => r.pid)).size).toBe(2)
      expect(requests.map((r) => r.time)).toEqual(requests.map((r) => r.time).sort((a, b) => b - a))
    }
  })

  it("adds both processes' figures up", async () => {
    const history = async () => {
      const answer = await new Promise<string>((resolve, reject) => {
        const req = request(`${server.address}/api/v1/console/api/figures`, { agent: false }, (res) => {
          res.setEncoding('utf8').once('data', (first: string) => {
            resolve(first)
            req.destroy()
          })
        })
        req.on('error', reject)
        req.end()
      })
      return JSON.parse(answer.slice(answer.indexOf('{'), answer.lastIndexOf('}') + 1)).history as Array<{ rps: number }>
    }
    // The first test's 24 requests, counted in each process's seconds, summed per second across the two.
    await until(async () => (await history()).reduce((sum, s) => sum + s.rps, 0) === 24, 5_000, 'the figures of both processes to add up to 24 requests')
  })
})
