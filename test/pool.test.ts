// Worker tools through an agent on the scripted local model: results, saturation, timeouts, crashes, cancels.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postJson, startServer, type TestServer } from './helpers/test-server.js'

const cpu = { 'robutler-skill-cpu': {} }
const call = (line: string) => ({ messages: [{ role: 'user', content: line }] })
const toolText = (json: any) => json.choices[0].message.content as string
const toolError = (json: any) => JSON.parse(toolText(json)).error as { code: string; message: string }

async function fileLines(file: string): Promise<number> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter(Boolean).length
  } catch {
    return 0 // not written yet
  }
}

describe('worker pool', () => {
  let t: TestServer
  let scratch: string
  const chat = () => `${t.url}/cpu/chat/completions`

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'robutler-pool-'))
    t = await startServer(['local', 'cpu'], {
      workerThreads: 1,
      workerQueue: 2,
      workerResourceLimits: { maxOldGenerationSizeMb: 64 },
      plugins: { '@robutler/plugin-local': {} },
      agents: [{ name: 'cpu', model: 'local/echo', skills: cpu }],
    })
  })
  afterAll(async () => {
    await t.close()
    await rm(scratch, { recursive: true, force: true })
  })

  it('a worker tool returns the right result, computed off the main thread', async () => {
    const res = await postJson(chat(), call('/tool primes {"below": 10000}'))
    expect(JSON.parse(toolText(res.json))).toEqual({ below: 10000, count: 1229 })
    const who = JSON.parse(toolText((await postJson(chat(), call('/tool whoami {}'))).json))
    expect(who.threadId).toBeGreaterThan(0)
    expect(who.pid).toBe(process.pid)
  })

  it('a full queue is 503 RBT_ERR_POOL_SATURATED with Retry-After, and the server recovers', async () => {
    // One thread, a queue of two: of six 400 ms tasks at once, at least three are refused.
    const answers = await Promise.all(Array.from({ length: 6 }, () => postJson(chat(), call('/tool busy {"ms": 400}'))))
    const refused = answers.filter((a) => a.status === 503)
    const served = answers.filter((a) => a.status === 200)
    expect(refused.length).toBeGreaterThanOrEqual(3)
    expect(served.length).toBeGreaterThanOrEqual(1)
    for (const a of refused) {
      expect(a.json.error.code).toBe('RBT_ERR_POOL_SATURATED')
      expect(a.headers.get('retry-after')).toBe('1')
    }
    const after = await postJson(chat(), call('/tool busy {"ms": 10}'))
    expect(after.status).toBe(200)
  })

  it('a saturated pool during a stream, before any output, is a normal 503', async () => {
    const streams = Array.from({ length: 6 }, () =>
      fetch(chat(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...call('/tool busy {"ms": 400}'), stream: true }) }),
    )
    const statuses = await Promise.all(streams.map(async (p) => {
      const res = await p
      await res.text()
      return res.status
    }))
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(3)
  })

  it('a task past its timeout fails only its call; the thread is recycled', async () => {
    const started = Date.now()
    const res = await postJson(chat(), call('/tool busy_limited {"ms": 60000}'))
    expect(res.status).toBe(200)
    expect(toolError(res.json).code).toBe('RBT_ERR_TOOL_TIMEOUT')
    expect(Date.now() - started).toBeLessThan(5000)
    expect(JSON.parse(toolText((await postJson(chat(), call('/tool primes {"below": 100}'))).json)).count).toBe(25)
  })

  it.each([
    ['a thrown error', 'explode', 'the worker exploded on purpose'],
    ['an out-of-memory task', 'hog', 'out of memory'],
    ['process.exit() in a task', 'quit', 'exited'],
  ])('%s fails only its call', async (_label, tool, fragment) => {
    const res = await postJson(chat(), call(`/tool ${tool} {}`))
    expect(res.status).toBe(200)
    const error = toolError(res.json)
    expect(error.code).toBe('RBT_ERR_TOOL_FAILED')
    expect(error.message).toContain(fragment)
    const next = await postJson(chat(), call('/tool primes {"below": 100}'))
    expect(JSON.parse(toolText(next.json)).count).toBe(25)
  })

  it('a client disconnect cancels a long task: it stops early', async () => {
    const file = join(scratch, 'beats.txt')
    const controller = new AbortController()
    const pending = fetch(chat(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(call(`/tool heartbeat {"file": ${JSON.stringify(file)}, "ms": 5000}`)),
      signal: controller.signal,
    }).catch((error) => error)
    const deadline = Date.now() + 3000
    while ((await fileLines(file)) < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    controller.abort()
    await pending
    await new Promise((r) => setTimeout(r, 200))
    const atCancel = await fileLines(file)
    await new Promise((r) => setTimeout(r, 500))
    expect(await fileLines(file)).toBe(atCancel)
    // 5 s at one beat per 20 ms would be ~250 lines.
    expect(atCancel).toBeLessThan(100)
    const next = await postJson(chat(), call('/tool primes {"below": 100}'))
    expect(JSON.parse(toolText(next.json)).count).toBe(25)
  })
})

describe('worker tools on the main thread (workerThreads: 0)', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startServer(['local', 'cpu'], {
      workerThreads: 0,
      plugins: { '@robutler/plugin-local': {} },
      agents: [{ name: 'cpu', model: 'local/echo', skills: cpu }],
    })
  })
  afterAll(() => t.close())

  it('run the same export in process', async () => {
    const res = await postJson(`${t.url}/cpu/chat/completions`, call('/tool whoami {}'))
    expect(JSON.parse(toolText(res.json)).threadId).toBe(0)
  })

  it('with the same result limit and the same refusal of `throw null`', async () => {
    const huge = toolError((await postJson(`${t.url}/cpu/chat/completions`, call('/tool huge {"mb": 2}'))).json)
    expect([huge.code, huge.message]).toEqual(['RBT_ERR_TOOL_FAILED', expect.stringContaining('over the limit of 1048576')])
    const thrown = toolError((await postJson(`${t.url}/cpu/chat/completions`, call('/tool throw_null {}'))).json)
    expect([thrown.code, thrown.message]).toEqual(['RBT_ERR_TOOL_FAILED', expect.stringContaining('threw null')])
  })
})

describe('what a pool tool may hold', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startServer(['local', 'cpu'], {
      workerThreads: 1,
      workerResourceLimits: { maxOldGenerationSizeMb: 64, maxExternalMb: 64 },
      plugins: { '@robutler/plugin-local': {} },
      agents: [{ name: 'cpu', model: 'local/echo', skills: cpu }],
    })
  })
  afterAll(() => t.close())
  const ask = (line: string) => postJson(`${t.url}/cpu/chat/completions`, call(line))

  it('a thread that keeps Buffers past maxExternalMb is ended and replaced: 400 MB asked, never more than 80 held', async () => {
    const before = process.memoryUsage.rss()
    const held: number[] = []
    const threads = new Set<number>()
    for (let i = 0; i < 10; i++) {
      const res = await ask('/tool hoard {"mb": 40}')
      expect(res.status).toBe(200)
      const answer = JSON.parse(toolText(res.json))
      held.push(answer.heldMb)
      threads.add(answer.threadId)
    }
    // 40 fits; 80 is over 64 once the call is done, so the thread ends before its next task (which runs on a new one).
    expect(Math.max(...held)).toBeLessThanOrEqual(80)
    expect(threads.size).toBeGreaterThanOrEqual(4)
    expect(process.memoryUsage.rss() - before).toBeLessThan(200 * 1024 * 1024)
    expect(t.logs.some((line) => line.includes('held more memory outside its heap'))).toBe(true)
  })

  it('a result past maxToolResultSize fails its call in the thread: 100 MB never reaches the event loop', async () => {
    const delay = monitorEventLoopDelay({ resolution: 10 })
    delay.enable()
    const started = performance.now()
    const res = await ask('/tool huge {"mb": 100}')
    const took = performance.now() - started
    delay.disable()
    expect(res.status).toBe(200)
    const error = toolError(res.json)
    expect(error.code).toBe('RBT_ERR_TOOL_FAILED')
    expect(error.message).toContain('its result is 104857600 bytes, over the limit of 1048576')
    // Cloning and serialising 100 MB on the main thread blocked it for about 2 s.
    expect(delay.max / 1e6).toBeLessThan(500)
    expect(took).toBeLessThan(3000)
  })

  it('a tool that throws null fails its call: a throw is never a result', async () => {
    const error = toolError((await ask('/tool throw_null {}')).json)
    expect(error.code).toBe('RBT_ERR_TOOL_FAILED')
    expect(error.message).toContain('the tool threw null, not an Error')
  })
})

describe('worker pool under a steady overload', () => {
  it('serves waiting tasks in arrival order: no call waits for the whole run', async () => {
    const t = await startServer(['local', 'cpu'], {
      workerThreads: 1,
      workerQueue: 64,
      plugins: { '@robutler/plugin-local': {} },
      agents: [{ name: 'cpu', model: 'local/echo', skills: cpu }],
    })
    try {
      // Twenty callers in a closed loop of 50 ms tasks on one thread for 3 s: in arrival order each call waits
      // about 20 × 50 ms = 1 s; out of order, some wait for most of the run.
      const latencies: number[] = []
      const until = Date.now() + 3000
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          while (Date.now() < until) {
            const started = Date.now()
            const res = await postJson(`${t.url}/cpu/chat/completions`, call('/tool busy {"ms": 50}'))
            expect(res.status).toBe(200)
            latencies.push(Date.now() - started)
          }
        }),
      )
      expect(latencies.length).toBeGreaterThan(20)
      // In order, every call waits about as long as the median call (a machine twice as slow scales both).
      const sorted = [...latencies].sort((a, b) => a - b)
      const median = sorted[Math.floor(sorted.length / 2)]!
      expect(sorted.at(-1)!).toBeLessThan(median * 1.8)
    } finally {
      await t.close()
    }
  })
})
