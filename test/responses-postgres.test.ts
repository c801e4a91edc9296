// @robutler/plugin-responses on PostgreSQL (tables under a prefix of this file's own): the openai SDK's flows on
// the shared store, a run whose process died marked failed by the lease sweep, and — with `robutler start
// --workers 2` — a background stream dropped and resumed on new connections until another worker answers,
// every event once, in order.
import { request } from 'node:http'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import OpenAI, { NotFoundError } from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanEnv, killIfAlive, startServer as startCli, type RunningServer } from './helpers/cli-process.js'
import { DATABASE_URL, postgresAvailable, query, uniqueTable } from './helpers/postgres.js'
import { linkedApp, startServer, type TestServer } from './helpers/test-server.js'

const available = await postgresAvailable()
const PREFIX = uniqueTable('rbt_resp')
const TEXT = Array.from({ length: 30 }, (_, i) => `w${i}`).join(' ')
const keys = { keys: { 'key-ann': { userId: 'ann', scope: 'all' }, 'key-bob': { userId: 'bob', scope: 'all' } } }

async function dropTables(): Promise<void> {
  for (const suffix of ['', '_events', '_conversations', '_items']) await query(`DROP TABLE IF EXISTS ${PREFIX}${suffix}`)
}

/** One GET of a background stream on a fresh connection: its events (reading stops after `take`), and the process that served it. */
function resumeOnce(base: string, id: string, after: number, take: number, key?: string): Promise<{ events: any[]; process: string }> {
  return new Promise((resolve, reject) => {
    const url = `${base}/responses/${id}?stream=true${after >= 0 ? `&starting_after=${after}` : ''}`
    const req = request(url, { agent: false, headers: key ? { authorization: `Bearer ${key}` } : {} }, (res) => {
      const process = String(res.headers['x-request-id']).slice(0, 18)
      const events: any[] = []
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = block.split('\n').find((line) => line.startsWith('data: '))
          if (data && events.length < take) events.push(JSON.parse(data.slice(6)))
        }
        if (events.length >= take) {
          req.destroy()
          resolve({ events, process })
        }
      })
      res.on('end', () => resolve({ events, process }))
      res.on('error', () => resolve({ events, process }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe.skipIf(!available)('the Responses surface on PostgreSQL', () => {
  let t: TestServer
  let client: OpenAI

  beforeAll(async () => {
    t = await startServer(['local', 'responses', 'keys'], {
      urlPrefix: '/api/v1',
      plugins: {
        '@robutler/plugin-local': { chunkDelayMs: 10 },
        '@robutler/plugin-responses': { database: DATABASE_URL, tablePrefix: PREFIX, leaseSeconds: 1 },
        'robutler-plugin-keys': keys,
      },
      agents: [
        { name: 'echo', model: 'local/echo' },
        { name: 'inspector', model: 'local/inspect' },
      ],
    })
    client = new OpenAI({ baseURL: t.url, apiKey: 'key-ann', maxRetries: 0 })
  })
  afterAll(async () => {
    await t?.close()
    await dropTables()
  })

  it('stores, chains, lists, deletes; another key gets 404', async () => {
    const one = await client.responses.create({ model: 'echo', input: 'first' })
    const two = await client.responses.create({ model: 'inspector', input: 'second', previous_response_id: one.id })
    expect(JSON.parse(two.output_text).messages.map((m: any) => m.content)).toEqual(['first', 'first', 'second'])
    expect((await client.responses.retrieve(one.id)).output_text).toBe('first')
    expect((await client.responses.inputItems.list(two.id)).data.map((item: any) => item.content[0].text)).toEqual(['second'])
    const bob = new OpenAI({ baseURL: t.url, apiKey: 'key-bob', maxRetries: 0 })
    await expect(bob.responses.retrieve(one.id)).rejects.toBeInstanceOf(NotFoundError)
    await client.responses.delete(one.id)
    await expect(client.responses.retrieve(one.id)).rejects.toBeInstanceOf(NotFoundError)
    const { rows } = await query(`SELECT count(*)::int AS n FROM ${PREFIX} WHERE id = $1`, [two.id])
    expect(rows[0].n).toBe(1)
  })

  it('conversations live in the database: items paged in order', async () => {
    const conversation = await client.conversations.create({ items: [{ type: 'message', role: 'user', content: 'hello' }] })
    await client.responses.create({ model: 'echo', input: 'again', conversation: conversation.id })
    const items = await client.conversations.items.list(conversation.id, { order: 'asc', limit: 2 })
    expect(items.data.map((item: any) => item.content[0].text)).toEqual(['hello', 'again'])
    expect(items.has_more).toBe(true)
    const rest = await client.conversations.items.list(conversation.id, { order: 'asc', after: items.data[1]!.id })
    expect(rest.data.map((item: any) => item.content[0].text)).toEqual(['again'])
  })

  it('background: stream dropped, resumed from the stored events, cancel from the store', async () => {
    const bg = await client.responses.create({ model: 'echo', input: TEXT, background: true })
    const first = await resumeOnce(t.url, bg.id, -1, 5, 'key-ann')
    const rest = await resumeOnce(t.url, bg.id, first.events.at(-1).sequence_number, 10_000, 'key-ann')
    const all = [...first.events, ...rest.events]
    expect(all.map((event) => event.sequence_number)).toEqual(all.map((_, i) => i))
    expect(all.at(-1).type).toBe('response.completed')
    expect((await client.responses.retrieve(bg.id)).output_text).toBe(TEXT)
    const long = await client.responses.create({ model: 'echo', input: `${TEXT} ${TEXT} ${TEXT}`, background: true })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect((await client.responses.cancel(long.id)).status).toBe('cancelled')
  })

  it('a run whose process died is marked failed when its lease runs out; its stream ends with error + response.failed', async () => {
    const id = 'resp_lost_run_0001'
    const record = { response: { id, object: 'response', status: 'in_progress', background: true, output: [], model: 'echo' }, history: [], input: [], items: [] }
    await query(`INSERT INTO ${PREFIX} (id, owner, agent, status, record, lease_until) VALUES ($1, 'ann', 'echo', 'in_progress', $2, now() - interval '1 second')`, [id, JSON.stringify(record)])
    await query(`INSERT INTO ${PREFIX}_events (response_id, seq, event) VALUES ($1, 0, $2)`, [id, JSON.stringify({ type: 'response.created', response: record.response, sequence_number: 0 })])
    const stream = await resumeOnce(t.url, id, 0, 100, 'key-ann')
    expect(stream.events.map((event) => event.type)).toEqual(['error', 'response.failed'])
    expect(stream.events[0].code).toBe('RBT_ERR_RESPONSE_RUN_LOST')
    const got = await client.responses.retrieve(id)
    expect(got.status).toBe('failed')
    expect(got.error?.code).toBe('RBT_ERR_RESPONSE_RUN_LOST')
  })
})

describe.skipIf(!available)('resume across processes: robutler start --workers 2 on PostgreSQL', () => {
  let app: Awaited<ReturnType<typeof linkedApp>>
  let server: RunningServer
  const prefix = `${PREFIX}_w`

  beforeAll(async () => {
    app = await linkedApp(['local', 'responses'])
    const config = {
      server: { workerThreads: 1, urlPrefix: '/api/v1' },
      plugins: { '@robutler/plugin-local': { chunkDelayMs: 40 }, '@robutler/plugin-responses': { database: DATABASE_URL, tablePrefix: prefix } },
      agents: [{ name: 'echo', model: 'local/echo' }],
    }
    const file = join(app.dir, 'robutler.config.json')
    await writeFile(file, JSON.stringify(config))
    server = await startCli(['--config', file, '--port', '0', '--workers', '2'], { env: cleanEnv() })
    const deadline = Date.now() + 15_000
    while (server.logLines().filter((line) => /listening on/.test(line.msg ?? '')).length < 2) {
      if (Date.now() > deadline) throw new Error(`both workers did not listen\n${server.stdout()}`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  })
  afterAll(async () => {
    killIfAlive(server?.child)
    await app?.cleanup()
    for (const suffix of ['', '_events', '_conversations', '_items']) await query(`DROP TABLE IF EXISTS ${prefix}${suffix}`)
  })

  it('a dropped background stream resumes on new connections until another worker answers: every event once, in order', async () => {
    const base = `${server.address}/api/v1`
    const created = await fetch(`${base}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'echo', input: TEXT, background: true }),
    })
    const started = await created.json()
    const origin = String(created.headers.get('x-request-id')).slice(0, 18)
    const events: any[] = []
    const served = new Set<string>([origin])
    let last = -1
    for (let attempt = 0; attempt < 200 && events.at(-1)?.type !== 'response.completed'; attempt++) {
      // Two events a connection, on a fresh one each time, until another worker has served some.
      const take = served.size < 2 ? 2 : 10_000
      const part = await resumeOnce(base, started.id, last, take)
      served.add(part.process)
      events.push(...part.events)
      if (part.events.length > 0) last = part.events.at(-1).sequence_number
    }
    expect(served.size).toBe(2)
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i))
    expect(events.at(-1).type).toBe('response.completed')
    expect(events.at(-1).response.output[0].content[0].text).toBe(TEXT)
    const deltas = events.filter((event) => event.type === 'response.output_text.delta').map((event) => event.delta)
    expect(deltas.join('')).toBe(TEXT)
  })

  it('a cancel that lands on the other worker reaches the run through the store', async () => {
    const base = `${server.address}/api/v1`
    const processOf = (answer: Response) => String(answer.headers.get('x-request-id')).slice(0, 18)
    // New runs until a cancel (on a fresh connection) lands on the worker that does not run it.
    let crossed: { id: string; cancelled: any } | null = null
    for (let attempt = 0; attempt < 10 && crossed === null; attempt++) {
      const created = await fetch(`${base}/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({ model: 'echo', input: `${TEXT} ${TEXT} ${TEXT}`, background: true }),
      })
      const started = await created.json()
      const answer = await fetch(`${base}/responses/${started.id}/cancel`, { method: 'POST', headers: { connection: 'close' } })
      const cancelled = await answer.json()
      if (processOf(answer) !== processOf(created)) crossed = { id: started.id, cancelled }
    }
    expect(crossed).not.toBeNull()
    expect(crossed!.cancelled.status).toBe('cancelled')
    const stored = await (await fetch(`${base}/responses/${crossed!.id}`)).json()
    expect(stored.status).toBe('cancelled')
    const text: string = stored.output[0]?.content?.[0]?.text ?? ''
    expect(text.split(' ').length).toBeLessThan(90)
  })
})
