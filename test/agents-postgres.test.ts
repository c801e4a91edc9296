// @robutler/plugin-agents-postgres against the real PostgreSQL (DATABASE_URL): two server instances on one table
// kept in step by LISTEN/NOTIFY, the real `robutler agents` CLI, single-flight loads, per-agent errors; and a
// fault test on a private PostgreSQL (initdb + pg_ctl) that is stopped and started again.
import { spawn } from 'node:child_process'
import { request } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import { AGENTS_POSTGRES, agentsApp, logLines, startAgentsServer, type AgentsApp, type AgentsServer } from './helpers/agents-postgres-app.js'
import { CLI, cleanEnv, runCli, type CliResult } from './helpers/cli-process.js'
import { DATABASE_URL, postgresAvailable, query, uniqueTable } from './helpers/postgres.js'
import { findPostgresBin, startPrivatePostgres, type PrivatePostgres } from './helpers/private-postgres.js'
import { loggedAbout, postJson } from './helpers/test-server.js'

const pgUp = await postgresAvailable()
const PG_BIN = findPostgresBin()
const CI = process.env.CI === 'true'

/** Milliseconds each propagation took, printed once at the end. */
const timings: Record<string, number> = {}

const ask = { messages: [{ role: 'user', content: 'hello from the table' }] }

async function getJson(url: string): Promise<{ status: number; json: any }> {
  const response = await fetch(url)
  return { status: response.status, json: await response.json().catch(() => null) }
}

/**
 * Polls every server until `check` holds for it; answers the ms until the last one did. Fails after `limitMs`
 * (well past the 1 s the tests assert, so a slow propagation shows its real time rather than a timeout).
 */
async function untilAll(servers: AgentsServer[], check: (s: AgentsServer) => Promise<boolean>, limitMs = 5000): Promise<number> {
  const started = performance.now()
  const times = await Promise.all(
    servers.map(async (server) => {
      while (performance.now() - started < limitMs) {
        if (await check(server)) return performance.now() - started
        await sleep(10)
      }
      throw new Error(`${server.url}: condition not met within ${limitMs} ms`)
    }),
  )
  return Math.round(Math.max(...times))
}

const statusIs = (name: string, status: number) => async (s: AgentsServer) => (await getJson(`${s.url}/${name}`)).status === status
const descriptionIs = (name: string, description: string) => async (s: AgentsServer) => {
  const info = await getJson(`${s.url}/${name}`)
  return info.status === 200 && info.json.description === description
}

/** A pg client for the test's own SQL; closed by the caller. */
async function connect(url = DATABASE_URL): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  await client.connect()
  return client
}

describe('configuration (no database needed)', () => {
  it('refuses to start without a database, saying where to set one', async () => {
    const app = await agentsApp({})
    try {
      const failure = await startAgentsServer(app).then(
        (s) => s.close().then(() => null),
        (error: Error) => error,
      )
      expect(failure).toBeInstanceOf(Error)
      expect(failure!.message).toContain(AGENTS_POSTGRES)
      expect(failure!.message).toContain("set 'database' in the @robutler/plugin-agents-postgres section of the config, or DATABASE_URL")
    } finally {
      await app.cleanup()
    }
  })

  it('an unreachable database fails startup naming the host and port, never the password', async () => {
    const app = await agentsApp({ database: 'postgres://robutler:hunter2-secret@127.0.0.1:1/agents' })
    try {
      const failure = await startAgentsServer(app).then(
        (s) => s.close().then(() => null),
        (error: Error) => error,
      )
      expect(failure!.message).toContain('127.0.0.1:1/agents')
      expect(failure!.message).not.toContain('hunter2-secret')
    } finally {
      await app.cleanup()
    }
  })

  it('the CLI without a database fails (1), and a usage error is 2, before any connection', async () => {
    const app = await agentsApp({})
    try {
      const env = cleanEnv()
      delete env.DATABASE_URL
      const noDb = await runCli(['agents', 'list', '--config', app.configPath], { env })
      expect(noDb.code).toBe(1)
      expect(noDb.stderr).toContain('no agent database')
      for (const args of [['agents'], ['agents', 'frobnicate'], ['agents', 'get'], ['agents', 'put', 'Bad Name', 'x.json'], ['agents', 'delete', 'health'], ['agents', 'list', 'extra']]) {
        const result = await runCli([...args, '--config', app.configPath], { env })
        expect({ args, code: result.code }).toEqual({ args, code: 2 })
        expect(result.stderr).toMatch(/robutler agents/)
      }
    } finally {
      await app.cleanup()
    }
  })
})

describe.skipIf(!pgUp)('two instances on one table, changes from the CLI', () => {
  const table = uniqueTable('robutler_agents_test')
  let app: AgentsApp
  let a: AgentsServer
  let b: AgentsServer
  let files: string
  const both = () => [a, b]

  const cli = (...args: string[]): Promise<CliResult> => runCli([...args, '--config', app.configPath], { env: cleanEnv() })
  async function agentFile(name: string, config: unknown): Promise<string> {
    const path = join(files, `${name}-${Math.random().toString(36).slice(2)}.json`)
    await writeFile(path, typeof config === 'string' ? config : JSON.stringify(config))
    return path
  }
  async function put(name: string, config: unknown): Promise<void> {
    const result = await cli('agents', 'put', name, await agentFile(name, config))
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  }

  beforeAll(async () => {
    files = await mkdtemp(join(tmpdir(), 'robutler-agent-files-'))
    app = await agentsApp({ database: DATABASE_URL, table })
    // Both at once: their migrations run concurrently on a table that does not exist yet.
    // 1,000 connections from this one client address below: more than the per-address default allows.
    ;[a, b] = await Promise.all([startAgentsServer(app, { maxConnectionsPerIp: 0 }), startAgentsServer(app, { maxConnectionsPerIp: 0 })])
  }, 60_000)

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()])
    await query(`DROP TABLE IF EXISTS "${table}" CASCADE`).catch(() => undefined)
    await query(`DROP FUNCTION IF EXISTS "${table}_notify"() CASCADE`).catch(() => undefined)
    await app?.cleanup()
    await rm(files, { recursive: true, force: true })
    console.info(`agents-postgres propagation (ms): ${JSON.stringify(timings)}`)
  })

  it('the migration made the table, one trigger function and its two triggers, once', async () => {
    const columns = await query<{ column_name: string; data_type: string; is_nullable: string }>(
      'SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position',
      [table],
    )
    expect(columns.rows).toEqual([
      { column_name: 'name', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'config', data_type: 'jsonb', is_nullable: 'NO' },
      { column_name: 'enabled', data_type: 'boolean', is_nullable: 'NO' },
      { column_name: 'updated_at', data_type: 'timestamp with time zone', is_nullable: 'NO' },
    ])
    const triggers = await query<{ tgname: string }>('SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY tgname', [`"${table}"`])
    expect(triggers.rows.map((r) => r.tgname)).toEqual(['robutler_agents_notify', 'robutler_agents_notify_truncate'])
    // Running it again (a third instance, a restart) changes nothing.
    const c = await startAgentsServer(app)
    await c.close()
    const again = await query('SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal', [`"${table}"`])
    expect(again.rowCount).toBe(2)
    for (const s of both()) expect(logLines(s.logs, /agents from PostgreSQL/)[0]).toMatchObject({ plugin: AGENTS_POSTGRES, table: `public.${table}` })
  })

  it('an agent put with the CLI is served by both instances within 1 s (even after both answered 404)', async () => {
    for (const s of both()) expect((await getJson(`${s.url}/alpha`)).status).toBe(404)
    await put('alpha', { model: 'local/echo', description: 'v1' })
    timings.put = await untilAll(both(), statusIs('alpha', 200))
    expect(timings.put).toBeLessThan(1000)
    for (const s of both()) {
      const res = await postJson(`${s.url}/alpha/chat/completions`, ask)
      expect(res.status).toBe(200)
      expect(res.json.choices[0].message.content).toBe('hello from the table')
    }
  })

  it('an update reaches both within 1 s although both had the old version cached', async () => {
    for (const s of both()) expect((await getJson(`${s.url}/alpha`)).json.description).toBe('v1')
    const before = both().map((s) => s.lookups('alpha'))
    for (const s of both()) expect((await getJson(`${s.url}/alpha`)).json.description).toBe('v1')
    expect(both().map((s) => s.lookups('alpha'))).toEqual(before) // served from the cache, not the table
    await put('alpha', { model: 'local/echo', description: 'v2' })
    timings.update = await untilAll(both(), descriptionIs('alpha', 'v2'))
    expect(timings.update).toBeLessThan(1000)
  })

  it('a delete gives 404 on both within 1 s', async () => {
    for (const s of both()) expect((await getJson(`${s.url}/alpha`)).status).toBe(200)
    const result = await cli('agents', 'delete', 'alpha')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("Deleted agent 'alpha'")
    timings.delete = await untilAll(both(), statusIs('alpha', 404))
    expect(timings.delete).toBeLessThan(1000)
    for (const s of both()) expect((await getJson(`${s.url}/alpha`)).json.error.code).toBe('RBT_ERR_AGENT_NOT_FOUND')
  })

  it('agents list, get, put from stdin, and the failures (exit 1)', async () => {
    await put('beta', { model: 'local/echo', description: 'listed', instructions: 'Be brief.' })
    const piped = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'agents', 'put', 'gamma', '-', '--config', app.configPath], { cwd: tmpdir(), env: cleanEnv() })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t))
      child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t))
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, stdout, stderr }))
      child.stdin.end(JSON.stringify({ name: 'gamma', model: 'local/echo' }))
    })
    expect(piped).toMatchObject({ code: 0, stderr: '' })
    expect(piped.stdout).toContain("Created agent 'gamma'")

    const list = await cli('agents', 'list')
    expect(list.code).toBe(0)
    const lines = list.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^NAME\s+ENABLED\s+UPDATED\s+MODEL$/)
    expect(lines.slice(1).map((l) => l.split(/\s+/))).toEqual([
      ['beta', 'yes', expect.stringMatching(/^\d{4}-\d\d-\d\dT/), 'local/echo'],
      ['gamma', 'yes', expect.stringMatching(/^\d{4}-\d\d-\d\dT/), 'local/echo'],
    ])
    const json = await cli('agents', 'list', '--json')
    expect(JSON.parse(json.stdout).map((x: any) => x.name)).toEqual(['beta', 'gamma'])

    const got = await cli('agents', 'get', 'beta')
    expect(got.code).toBe(0)
    expect(got.stdout).toBe(`${JSON.stringify({ name: 'beta', model: 'local/echo', description: 'listed', instructions: 'Be brief.' }, null, 2)}\n`)

    const failures: Array<[string[], RegExp]> = [
      [['agents', 'get', 'nobody'], /no agent 'nobody'/],
      [['agents', 'delete', 'nobody'], /no agent 'nobody'/],
      [['agents', 'put', 'delta', await agentFile('delta', '{ not json')], /is not valid JSON/],
      [['agents', 'put', 'delta', await agentFile('delta', [1, 2])], /must hold a JSON object/],
      [['agents', 'put', 'delta', await agentFile('delta', { description: 'no model' })], /"model" must be a string "provider\/model"/],
      [['agents', 'put', 'delta', await agentFile('delta', { model: 42 })], /"model" must be a string/],
      [['agents', 'put', 'delta', await agentFile('delta', { name: 'epsilon', model: 'local/echo' })], /names agent "epsilon"/],
      [['agents', 'put', 'delta', join(files, 'missing.json')], /cannot read/],
      // Checked by the rules the servers load agents by: a provider the config's plugins serve, enabled skills.
      [['agents', 'put', 'delta', await agentFile('delta', { model: 'nope/x' })], /is not an agent the servers of this config can load:\n {2}RBT_ERR_MODEL_PROVIDER_UNKNOWN {2}Agent 'delta': model 'nope\/x' names provider 'nope', which no enabled plugin provides\n {4}→ no first-party plugin serves 'nope\/…' models/],
      [['agents', 'put', 'delta', await agentFile('delta', { model: 'local/echo', skills: { 'robutler-skill-absent': {} } })], /RBT_ERR_AGENT_INVALID {2}Agent 'delta': skill 'robutler-skill-absent' is not installed or not enabled/],
      [['agents', 'put', 'delta', await agentFile('delta', { model: 'local/echo', temperature: 2 })], /RBT_ERR_AGENT_INVALID {2}Agent 'delta': .*temperature/],
    ]
    for (const [args, message] of failures) {
      const result = await cli(...args)
      expect({ args, code: result.code }).toEqual({ args, code: 1 })
      expect(result.stderr).toMatch(message)
    }
    const rows = await query('SELECT name FROM ' + `"${table}"` + ' ORDER BY name')
    expect(rows.rows.map((r) => r.name)).toEqual(['beta', 'gamma'])
  }, 60_000)

  it("GET /agents and GET /models list the table's enabled agents with the static ones", async () => {
    for (const s of both()) {
      const agents = await getJson(`${s.url}/agents`)
      expect(agents.json.data.map((agent: { name: string }) => agent.name)).toEqual(expect.arrayContaining(['beta', 'gamma']))
      expect(agents.json).toMatchObject({ dynamic_agents_enabled: true, dynamic_agents_listed: true, unlisted_loaders: [] })
      expect(agents.json.data.find((agent: { name: string }) => agent.name === 'beta')).toMatchObject({ description: 'listed', model: 'local/echo' })
      const models = await getJson(`${s.url}/models`)
      expect(models.json.data.map((model: { id: string }) => model.id)).toEqual(expect.arrayContaining(['beta', 'gamma']))
    }
  })

  it('1,000 concurrent first requests for one agent: one database lookup', async () => {
    await query(`INSERT INTO "${table}" (name, config) VALUES ('crowd', $1)`, [{ model: 'local/echo' }])
    const waitingLoads = async () =>
      Number(
        (
          await query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'robutler-agents-postgres' AND wait_event_type = 'Lock' AND query LIKE $1",
            [`SELECT config, enabled FROM "${table}"%`],
          )
        ).rows[0]!.n,
      )
    // Hold every read of the table so that the first load is still running when the last request arrives.
    const locker = await connect()
    let statuses: number[]
    try {
      await locker.query('BEGIN')
      await locker.query(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`)
      const requests = Array.from({ length: 1000 }, () =>
        new Promise<number>((resolve, reject) => {
          const req = request(`${a.url}/crowd/chat/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
            res.resume().on('end', () => resolve(res.statusCode!))
          })
          req.on('error', reject)
          req.end(JSON.stringify(ask))
        }),
      )
      const deadline = Date.now() + 5000
      while ((await waitingLoads()) === 0 && Date.now() < deadline) await sleep(20)
      await sleep(500)
      expect(await waitingLoads()).toBe(1)
      await locker.query('COMMIT')
      statuses = await Promise.all(requests)
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined)
      await locker.end()
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(1000)
    expect(a.lookups('crowd')).toBe(1)
  }, 60_000)

  it.each([
    ['bad-skill', { model: 'local/echo', skills: { '@acme/skill-missing': {} } }, "skill '@acme/skill-missing' is not installed"],
    ['bad-model', { model: 'gpt-4o' }, 'model'],
    ['bad-provider', { model: 'nowhere/big' }, "provider 'nowhere'"],
    ['bad-json', [1, 2, 3], 'its stored config is an array, not a JSON object'],
  ])('a record with a bad config (%s) is a clear error for that agent only', async (name, config, fragment) => {
    await query(`INSERT INTO "${table}" (name, config) VALUES ($1, $2)`, [name, JSON.stringify(config)])
    for (const s of both()) {
      const res = await postJson(`${s.url}/${name}/chat/completions`, ask)
      expect(res.status).toBe(500)
      expect(res.json.error.code).toBe('RBT_ERR_AGENT_INVALID')
      expect(res.json.error.message).toBe(`Agent '${name}' is misconfigured: the server log names the problems (request ${res.headers.get('x-request-id')})`)
      expect(loggedAbout(s.logs, res.headers.get('x-request-id'))).toContain(fragment)
      expect(res.text).not.toMatch(/\n\s+at /)
      expect((await postJson(`${s.url}/beta/chat/completions`, ask)).status).toBe(200)
    }
  })

  it('a disabled agent is 404; enabling it serves it on both within 1 s; the row name wins over the JSON', async () => {
    await query(`INSERT INTO "${table}" (name, config, enabled) VALUES ('dormant', $1, false)`, [{ name: 'other', model: 'local/echo', description: 'asleep' }])
    for (const s of both()) expect((await getJson(`${s.url}/dormant`)).status).toBe(404)
    await query(`UPDATE "${table}" SET enabled = true, updated_at = now() WHERE name = 'dormant'`)
    timings.enable = await untilAll(both(), descriptionIs('dormant', 'asleep'))
    expect(timings.enable).toBeLessThan(1000)
    for (const s of both()) expect((await getJson(`${s.url}/dormant`)).json.name).toBe('dormant')
  })

  it('TRUNCATE drops every agent on both within 1 s', async () => {
    for (const s of both()) expect((await getJson(`${s.url}/gamma`)).status).toBe(200)
    await query(`TRUNCATE "${table}"`)
    timings.truncate = await untilAll(both(), async (s) => (await statusIs('gamma', 404)(s)) && (await statusIs('beta', 404)(s)))
    expect(timings.truncate).toBeLessThan(1000)
  })

  it('readiness reports the agents-postgres check', async () => {
    const ready = await getJson(`${a.url}/ready`)
    expect(ready.status).toBe(200)
    expect(Object.keys(ready.json.checks)).toContain('agents-postgres')
    expect(ready.json.failing).toEqual([])
  })
})

describe.skipIf(!pgUp || (!PG_BIN && !CI))('database stopped (a private PostgreSQL)', () => {
  let db: PrivatePostgres
  let app: AgentsApp
  let s: AgentsServer

  beforeAll(async () => {
    db = await startPrivatePostgres(PG_BIN)
    app = await agentsApp({ database: db.url, priority: 50 })
    s = await startAgentsServer(app)
  }, 60_000)

  afterAll(async () => {
    await s?.close()
    await app?.cleanup()
    // Its own pg_ctl, on its own data folder: the shared server is never touched.
    await db?.destroy()
  }, 60_000)

  it('cached agents keep serving, unknown ones 503, then it recovers', async () => {
    const admin = await connect(db.url)
    await admin.query(`INSERT INTO robutler_agents (name, config) VALUES ('steady', $1)`, [{ model: 'local/echo', description: 'before' }])
    await admin.end()
    expect((await postJson(`${s.url}/steady/chat/completions`, ask)).status).toBe(200)

    await db.stop()
    const lost = performance.now()
    while (logLines(s.logs, /notifications lost/).length === 0 && performance.now() - lost < 5000) await sleep(20)
    expect(logLines(s.logs, /notifications lost/)).toHaveLength(1)

    const cached = await postJson(`${s.url}/steady/chat/completions`, ask)
    expect(cached.status).toBe(200)
    expect(cached.json.choices[0].message.content).toBe('hello from the table')
    const unknown = await postJson(`${s.url}/ghost/chat/completions`, ask)
    expect(unknown.status).toBe(503)
    expect(unknown.json.error.code).toBe('RBT_ERR_AGENT_UNAVAILABLE')
    // The client sees no host, port or driver message: those are in the log under the request id.
    expect(unknown.json.error.message).toBe(`Agent 'ghost' is unavailable right now; retry shortly (request ${unknown.headers.get('x-request-id')})`)
    expect(unknown.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|:\d{4,5}/)
    expect(loggedAbout(s.logs, unknown.headers.get('x-request-id'))).toMatch(/agent could not be loaded/)
    expect((await postJson(`${s.url}/ghost/chat/completions`, ask)).status).toBe(503) // not cached: asked again
    const notReady = await getJson(`${s.url}/ready`)
    expect(notReady.status).toBe(503)
    expect(notReady.json.failing).toEqual(['agents-postgres'])

    await db.start()
    const restarted = performance.now()
    while (logLines(s.logs, /notifications resumed/).length === 0 && performance.now() - restarted < 15_000) await sleep(20)
    expect(logLines(s.logs, /notifications resumed/)).toHaveLength(1)
    timings.reconnect = Math.round(performance.now() - restarted)

    expect((await postJson(`${s.url}/ghost/chat/completions`, ask)).status).toBe(404)
    const again = await connect(db.url)
    try {
      await again.query(`INSERT INTO robutler_agents (name, config) VALUES ('fresh', $1)`, [{ model: 'local/echo' }])
      expect((await postJson(`${s.url}/fresh/chat/completions`, ask)).status).toBe(200)
      // Notifications flow again: an update reaches the cache within 1 s.
      await again.query(`UPDATE robutler_agents SET config = $1, updated_at = now() WHERE name = 'steady'`, [{ model: 'local/echo', description: 'after' }])
      timings.afterRestart = await untilAll([s], descriptionIs('steady', 'after'))
      expect(timings.afterRestart).toBeLessThan(1000)
    } finally {
      await again.end()
    }
    expect((await getJson(`${s.url}/ready`)).status).toBe(200)
    console.info(`agents-postgres fault test (ms): ${JSON.stringify({ reconnect: timings.reconnect, afterRestart: timings.afterRestart })}`)
  }, 60_000)
})
