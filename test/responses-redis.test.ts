// @robutler/plugin-responses with `redis`: background runs' events and cancels in Redis (keys and channels under a
// prefix of this file's own), the responses in PostgreSQL; a dropped stream resumes from the Redis list, a cancel
// travels by pub/sub, a delete removes the list.
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DATABASE_URL, postgresAvailable, query, uniqueTable } from './helpers/postgres.js'
import { deleteKeys, mustRunRedisTests, reachSharedRedis, SHARED_REDIS_URL } from './helpers/rate-limit-app.js'
import { startServer, type TestServer } from './helpers/test-server.js'

const shared = await reachSharedRedis()
if (!mustRunRedisTests(shared)) console.warn(`${shared.unreachable?.message}: skipping the Redis tests`)
const pgUp = await postgresAvailable()
const PREFIX = uniqueTable('rbt_resp_redis')
const TEXT = Array.from({ length: 20 }, (_, i) => `w${i}`).join(' ')

describe.skipIf(!mustRunRedisTests(shared) || !pgUp)('the Responses surface with events in Redis', () => {
  let t: TestServer
  let client: OpenAI

  beforeAll(async () => {
    if (shared.unreachable) throw shared.unreachable
    t = await startServer(['local', 'responses'], {
      urlPrefix: '/api/v1',
      plugins: {
        '@robutler/plugin-local': { chunkDelayMs: 10 },
        '@robutler/plugin-responses': { database: DATABASE_URL, redis: SHARED_REDIS_URL, tablePrefix: PREFIX },
      },
      agents: [{ name: 'echo', model: 'local/echo' }],
    })
    client = new OpenAI({ baseURL: t.url, apiKey: 'unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await t?.close()
    if (shared.client) {
      await deleteKeys(shared.client, `${PREFIX}:`)
      shared.client.disconnect()
    }
    for (const suffix of ['', '_events', '_conversations', '_items']) await query(`DROP TABLE IF EXISTS ${PREFIX}${suffix}`)
  })

  it('a dropped background stream resumes from the events in Redis; none go to PostgreSQL', async () => {
    const stream = await client.responses.create({ model: 'echo', input: TEXT, background: true, stream: true })
    const first: any[] = []
    for await (const event of stream) {
      first.push(event)
      if (first.length === 5) break
    }
    const id = first[0].response.id
    const rest: any[] = []
    for await (const event of await client.responses.retrieve(id, { stream: true, starting_after: first.at(-1).sequence_number })) rest.push(event)
    const all = [...first, ...rest]
    expect(all.map((event) => event.sequence_number)).toEqual(all.map((_, i) => i))
    expect(all.at(-1).type).toBe('response.completed')
    expect(await shared.client!.llen(`${PREFIX}:events:${id}`)).toBe(all.length)
    expect(await shared.client!.ttl(`${PREFIX}:events:${id}`)).toBeGreaterThan(86_400)
    expect((await query(`SELECT count(*)::int AS n FROM ${PREFIX}_events`)).rows[0].n).toBe(0)
    expect((await client.responses.retrieve(id)).output_text).toBe(TEXT)
    await client.responses.delete(id)
    expect(await shared.client!.exists(`${PREFIX}:events:${id}`)).toBe(0)
  })

  it('another instance sharing PostgreSQL and Redis resumes the stream and cancels the run (pub/sub)', async () => {
    const other = await startServer(['local', 'responses'], {
      urlPrefix: '/api/v1',
      plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-responses': { database: DATABASE_URL, redis: SHARED_REDIS_URL, tablePrefix: PREFIX } },
      agents: [{ name: 'echo', model: 'local/echo' }],
    })
    try {
      const elsewhere = new OpenAI({ baseURL: other.url, apiKey: 'unused', maxRetries: 0 })
      const response = await client.responses.create({ model: 'echo', input: `${TEXT} ${TEXT} ${TEXT}`, background: true })
      const events: any[] = []
      const following = (async () => {
        for await (const event of await elsewhere.responses.retrieve(response.id, { stream: true })) events.push(event)
      })()
      await new Promise((resolve) => setTimeout(resolve, 60))
      expect((await elsewhere.responses.cancel(response.id)).status).toBe('cancelled')
      await following
      expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i))
      expect(events.at(-1)).toMatchObject({ type: 'response.failed', response: { status: 'cancelled' } })
      expect((await client.responses.retrieve(response.id)).status).toBe('cancelled')
    } finally {
      await other.close()
    }
  })
})
