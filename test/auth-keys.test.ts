// @robutler/plugin-auth-keys through a real server on 127.0.0.1 and the real `robutler keys` CLI, against the
// real PostgreSQL (DATABASE_URL): config keys, database keys created/listed/revoked from the shell, the cache
// TTL, agent allow-lists, a database that goes away, and no key material in any log.
import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type AgentConfig } from '@robutler/kernel'
import { createAuthenticator, describeDatabase, hashSecret, KeyStore, newSecret, TtlLru, type CachedAnswer } from '@robutler/plugin-auth-keys'
import { pino } from 'pino'
import pg from 'pg'
import { AUTH_KEYS, LOCAL, PROBE, SKILL_AUTH, apiKey, authApp, bearer, chat, getJson, startAuthServer, type AuthApp, type AuthServer } from './helpers/auth-app.js'
import { cleanEnv, killIfAlive, runCli, startServer as startCliServer, type RunningServer } from './helpers/cli-process.js'
import { DATABASE_URL, dropTable, postgresAvailable, query, uniqueTable } from './helpers/postgres.js'
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js'

const pgUp = await postgresAvailable()

const configKey = (label: string) => `cfg-${label}-${randomBytes(24).toString('base64url')}`
const K_USER = configKey('user')
const K_ADMIN = configKey('admin')
const K_LIMITED = configKey('limited')
const K_ENV = configKey('env')

/** Every secret this file sent or made; the log check looks for each and its hashes. */
const secrets = new Set<string>([K_USER, K_ADMIN, K_LIMITED, K_ENV])
/** Every log line of every server this file ran. */
const serverLogs: string[] = []

const SECRET = /rbt_[A-Za-z0-9_-]{43}/g
const KEY_ID = /rk_[a-z0-9]{8}/

/** Keys that share all but the last character, or the whole key plus more, or a long prefix, with `key`. */
function nearMisses(key: string): string[] {
  const last = key.at(-1)!
  const swapped = last === 'A' ? 'B' : 'A'
  return [key.slice(0, -1), key.slice(0, -1) + swapped, `${key}A`, key.slice(0, Math.floor(key.length * 0.9)) + 'x'.repeat(key.length - Math.floor(key.length * 0.9)), key.toUpperCase() === key ? key.toLowerCase() : key.toUpperCase()]
}

function expectUnauthenticated(res: { status: number; json: any; text: string }, token?: string) {
  expect(res.status).toBe(401)
  expect(res.json).toEqual({ error: { message: expect.any(String), type: 'authentication_error', code: 'RBT_ERR_UNAUTHENTICATED', param: null } })
  if (token) expect(res.text).not.toContain(token)
}

const probeScope = async (url: string, agent: string, headers: Record<string, string>) => getJson(`${url}/${agent}/probe/who`, headers)

describe('hashing, cache and messages (no server)', () => {
  it('TtlLru drops the least recently used entry past its size, and entries past their TTL', () => {
    let now = 0
    const cache = new TtlLru<number>({ ttlMs: 1000, max: 2, now: () => now })
    cache.set('a', 1)
    cache.set('b', 2)
    expect(cache.get('a')).toBe(1) // a is now the newest
    cache.set('c', 3) // evicts b
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([1, undefined, 3])
    now = 1000
    expect(cache.get('a')).toBeUndefined()
    expect(cache.size).toBe(1)
  })

  it('keeps unknown keys apart and briefly: 10,500 made-up keys evict no real one, and a repeated one costs one lookup', async () => {
    const real = newSecret()
    const lookups: string[] = []
    const store = {
      async lookup(hash: Buffer) {
        lookups.push(hash.toString('hex'))
        return hash.equals(hashSecret(real))
          ? { id: 'rk_real0001', hash, userId: 'ann', scope: 'all', agents: null, createdAt: new Date(), revokedAt: null, lastUsedAt: null }
          : null
      },
      async touch() {},
    } as unknown as KeyStore
    let now = 0
    const options = { ttlMs: 30_000, max: 100, now: () => now }
    const authenticate = createAuthenticator({
      configKeys: new Map(),
      store,
      cache: new TtlLru<CachedAnswer>(options),
      unknown: new TtlLru<CachedAnswer>({ ...options, ttlMs: 5_000 }),
      log: pino({ level: 'silent' }),
    })
    const credential = (token: string) => ({ scheme: 'bearer' as const, token })
    expect(await authenticate(credential(real), {} as never)).toMatchObject({ userId: 'ann' })
    for (let i = 0; i < 10_500; i++) expect(await authenticate(credential(newSecret()), {} as never)).toBe('not-mine')
    lookups.length = 0
    expect(authenticate(credential(real), {} as never)).toMatchObject({ userId: 'ann' }) // cached: no promise, no lookup
    const guess = newSecret()
    for (let i = 0; i < 5; i++) expect(await authenticate(credential(guess), {} as never)).toBe('not-mine')
    expect(lookups).toHaveLength(1)
    now = 5_000 // unknown answers last 5 s, known ones their full TTL
    expect(await authenticate(credential(guess), {} as never)).toBe('not-mine')
    expect(authenticate(credential(real), {} as never)).toMatchObject({ userId: 'ann' })
    expect(lookups).toHaveLength(2)
  })

  it('a TTL of 0 caches nothing', () => {
    const cache = new TtlLru<number>({ ttlMs: 0, max: 10 })
    cache.set('a', 1)
    expect(cache.get('a')).toBeUndefined()
  })

  it('names a database by host, port and name, never by its password', () => {
    expect(describeDatabase('postgres://app:s3cret@db.internal:6543/keys')).toBe('db.internal:6543/keys')
    expect(describeDatabase('postgresql://db/keys')).toBe('db:5432/keys')
    expect(describeDatabase("host=db.internal port=5433 dbname=keys password='s3cret'")).toBe('db.internal:5433/keys')
    expect(describeDatabase('password=s3cret')).toBe('the configured database')
  })
})

describe.skipIf(!pgUp)('plugin-auth-keys on a server, with PostgreSQL', () => {
  const table = uniqueTable('robutler_keys_test')
  const section = {
    keys: [
      { key: K_USER, userId: 'u-user' },
      { key: K_ADMIN, userId: 'u-admin', scope: 'admin', id: 'ops-admin' },
      { key: K_LIMITED, userId: 'u-limited', agents: ['public'] },
    ],
    database: DATABASE_URL,
    table,
    cacheTtlSeconds: 1,
  }
  const agents: AgentConfig[] = [
    { name: 'public', model: 'local/echo', skills: { [PROBE]: { hooks: false } } },
    { name: 'private', model: 'local/echo', skills: { [SKILL_AUTH]: {}, [PROBE]: { hooks: false } } },
  ]
  let app: AuthApp
  let t: AuthServer
  let configPath: string
  const cli = (...args: string[]) => runCli(['keys', ...args, '--config', configPath])

  /** `robutler keys create …`; answers the printed id and secret. */
  async function createKey(...args: string[]): Promise<{ id: string; secret: string; stdout: string }> {
    const result = await cli('create', ...args)
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const found = result.stdout.match(SECRET) ?? []
    expect(found).toHaveLength(1)
    const secret = found[0]!
    secrets.add(secret)
    return { id: KEY_ID.exec(result.stdout)![0], secret, stdout: result.stdout }
  }

  beforeAll(async () => {
    app = await authApp()
    configPath = await app.writeConfig({ plugins: { [LOCAL]: {}, [AUTH_KEYS]: section }, agents })
    t = await startAuthServer(app, { plugins: { [LOCAL]: {}, [AUTH_KEYS]: section }, agents }, serverLogs)
  })

  afterAll(async () => {
    await t?.close()
    await app?.cleanup()
    await dropTable(table)
  })

  it('creates its table at register, and /ready checks the database', async () => {
    const columns = await query<{ column_name: string; data_type: string }>(
      'SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position',
      [table],
    )
    expect(Object.fromEntries(columns.rows.map((c) => [c.column_name, c.data_type]))).toEqual({
      id: 'text',
      hash: 'bytea',
      user_id: 'text',
      scope: 'text',
      agents: 'ARRAY',
      budget: 'text',
      created_at: 'timestamp with time zone',
      revoked_at: 'timestamp with time zone',
      last_used_at: 'timestamp with time zone',
    })
    const ready = await getJson(`${t.url}/ready`)
    expect(ready.status).toBe(200)
    expect(ready.json.checks['auth-keys-db']).toEqual({ status: 'ok' })
  })

  it('no key: anonymous on a public agent, 401 on an agent with skill-auth (its health stays public)', async () => {
    const open = await chat(t.url, 'public', 'hello there')
    expect(open.status).toBe(200)
    expect(open.json.choices[0].message.content).toBe('hello there')
    expect((await probeScope(t.url, 'public', {})).json).toMatchObject({ scope: 'all' })
    expectUnauthenticated(await chat(t.url, 'private', 'hello there'))
    expectUnauthenticated(await getJson(`${t.url}/private`))
    expect((await getJson(`${t.url}/private/health`)).status).toBe(200)
  })

  it('a wrong key is a 401 with the OpenAI error shape, by either header, on every agent', async () => {
    const unknownGenerated = `rbt_${randomBytes(32).toString('base64url')}`
    secrets.add(unknownGenerated)
    for (const token of ['nope', unknownGenerated, `Bearer-${K_USER}`]) {
      for (const headers of [bearer(token), apiKey(token)]) {
        for (const agent of ['public', 'private']) expectUnauthenticated(await chat(t.url, agent, 'hi', headers), token)
      }
    }
  })

  it('a config key authenticates with its scope, by either header', async () => {
    const res = await chat(t.url, 'private', 'through the door', bearer(K_USER))
    expect(res.status).toBe(200)
    expect(res.json.choices[0].message.content).toBe('through the door')
    expect((await probeScope(t.url, 'private', bearer(K_USER))).json).toEqual({ word: 'who', agent: 'private', scope: 'all' })
    expect((await probeScope(t.url, 'private', apiKey(K_USER))).json).toMatchObject({ scope: 'all' })
    expect((await probeScope(t.url, 'private', apiKey(K_ADMIN))).json).toMatchObject({ scope: 'admin' })
    expect((await probeScope(t.url, 'public', bearer(K_ADMIN))).json).toMatchObject({ scope: 'admin' })
  })

  it('a key limited to some agents gets 403 on the others', async () => {
    expect((await chat(t.url, 'public', 'ok', bearer(K_LIMITED))).status).toBe(200)
    const denied = await chat(t.url, 'private', 'no', bearer(K_LIMITED))
    expect(denied.status).toBe(403)
    expect(denied.json.error).toMatchObject({ type: 'permission_error', code: 'RBT_ERR_FORBIDDEN' })
    expect((await getJson(`${t.url}/private/probe/x`, apiKey(K_LIMITED))).status).toBe(403)
  })

  it('keys that share a long prefix with a valid config key are refused like any unknown key', async () => {
    const stranger = `cfg-user-${randomBytes(24).toString('base64url')}`
    secrets.add(stranger)
    const reference = await chat(t.url, 'private', 'hi', bearer(stranger))
    for (const miss of nearMisses(K_USER)) {
      secrets.add(miss)
      const res = await chat(t.url, 'private', 'hi', bearer(miss))
      expectUnauthenticated(res, miss)
      expect(res.json).toEqual(reference.json)
    }
  })

  it('keys create prints the secret once and stores only its hash; the key works with its scope and agents', async () => {
    const { id, secret, stdout } = await createKey('--user', 'u-db', '--scope', 'owner', '--agents', 'public,private')
    expect(stdout).toContain(`Created API key ${id} for user u-db (scope owner, agents public, private)`)
    const rows = await query(`SELECT *, row_to_json(t)::text AS everything FROM "${table}" t WHERE id = $1`, [id])
    expect(rows.rows).toHaveLength(1)
    const row = rows.rows[0]
    expect(Buffer.compare(row.hash, createHash('sha256').update(secret).digest())).toBe(0)
    expect(row).toMatchObject({ user_id: 'u-db', scope: 'owner', agents: ['public', 'private'], revoked_at: null })
    expect(row.everything).not.toContain(secret)
    expect(row.everything).not.toContain(secret.slice(4))

    // Many requests at once with a key not yet cached: all answered, from one look-up.
    const many = await Promise.all(Array.from({ length: 20 }, () => probeScope(t.url, 'private', bearer(secret))))
    expect(many.map((r) => r.status)).toEqual(Array(20).fill(200))
    expect(many[0]!.json).toEqual({ word: 'who', agent: 'private', scope: 'owner' })
    expect((await chat(t.url, 'public', 'db key', apiKey(secret))).json.choices[0].message.content).toBe('db key')
  })

  it('keys create --json, and an agent allow-list from the shell', async () => {
    const result = await cli('create', '--user', 'u-json', '--agents', 'public', '--json')
    expect(result.code).toBe(0)
    const created = JSON.parse(result.stdout)
    secrets.add(created.secret)
    expect(created).toMatchObject({ id: expect.stringMatching(/^rk_[a-z0-9]{8}$/), secret: expect.stringMatching(/^rbt_[A-Za-z0-9_-]{43}$/), userId: 'u-json', scope: 'all', agents: ['public'] })
    expect((await chat(t.url, 'public', 'ok', bearer(created.secret))).status).toBe(200)
    expect((await chat(t.url, 'private', 'no', bearer(created.secret))).status).toBe(403)
  })

  it('keys list shows every key without its secret or hash', async () => {
    const { id, secret } = await createKey('--user', 'u-listed', '--scope', 'admin')
    const hash = createHash('sha256').update(secret).digest()
    const listed = await cli('list')
    expect(listed.code).toBe(0)
    const line = listed.stdout.split('\n').find((l) => l.startsWith(id))!
    expect(line).toMatch(new RegExp(`^${id}\\s+u-listed\\s+admin\\s+\\*\\s+-\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+-\\s+-$`))
    expect(listed.stdout).toMatch(/^ID\s+USER\s+SCOPE\s+AGENTS\s+BUDGET\s+CREATED\s+LAST USED\s+REVOKED$/m)
    for (const s of secrets) expect(listed.stdout).not.toContain(s)
    for (const form of [hash.toString('hex'), hash.toString('base64'), hash.toString('base64url')]) expect(listed.stdout).not.toContain(form)
    expect(listed.stdout).not.toMatch(SECRET)

    const json = await cli('list', '--json')
    const entry = JSON.parse(json.stdout).find((k: any) => k.id === id)
    expect(entry).toEqual({ id, userId: 'u-listed', scope: 'admin', agents: null, budget: null, createdAt: expect.any(String), revokedAt: null, lastUsedAt: null })
    expect(json.stdout).not.toMatch(SECRET)
  })

  it('keys revoke: the key is refused once the cache TTL has passed; revoking again or an unknown id says so', async () => {
    const { id, secret } = await createKey('--user', 'u-revoked')
    expect((await chat(t.url, 'private', 'before', bearer(secret))).status).toBe(200)
    const revoked = await cli('revoke', id)
    expect(revoked.code).toBe(0)
    expect(revoked.stdout).toMatch(new RegExp(`^Revoked ${id} at \\d{4}-`))
    await sleep(1100)
    const after = await chat(t.url, 'private', 'after', bearer(secret))
    expectUnauthenticated(after, secret)
    expectUnauthenticated(await chat(t.url, 'public', 'after', apiKey(secret)), secret)

    const again = await cli('revoke', id)
    expect(again.code).toBe(0)
    expect(again.stdout).toContain(`Already revoked ${id}`)
    const unknown = await cli('revoke', 'rk_00000000')
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain("no key 'rk_00000000'")
    const listed = await cli('list', '--json')
    expect(JSON.parse(listed.stdout).find((k: any) => k.id === id).revokedAt).toEqual(expect.any(String))
  })

  it('a revoked key keeps working until its cached answer expires (cacheTtlSeconds: 1), then is a 401', async () => {
    const { id, secret } = await createKey('--user', 'u-ttl')
    const cachedAt = Date.now()
    expect((await chat(t.url, 'private', 'cache me', bearer(secret))).status).toBe(200)
    // The same revoke the CLI runs, in process, so that it lands well inside the TTL.
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 })
    try {
      expect(await new KeyStore(pool, table).revoke(id)).toMatchObject({ status: 'revoked' })
    } finally {
      await pool.end()
    }
    expect(Date.now() - cachedAt).toBeLessThan(900)
    expect((await chat(t.url, 'private', 'still cached', bearer(secret))).status).toBe(200)
    let refusedAt = 0
    while (Date.now() - cachedAt < 3000) {
      const res = await chat(t.url, 'private', 'poll', bearer(secret))
      if (res.status === 401) {
        refusedAt = Date.now()
        break
      }
      expect(res.status).toBe(200)
      await sleep(50)
    }
    expect(refusedAt - cachedAt).toBeGreaterThanOrEqual(1000)
    expect(refusedAt - cachedAt).toBeLessThan(1500)
  })

  it('keys that share a long prefix with a valid database key are refused like any unknown key', async () => {
    const { secret } = await createKey('--user', 'u-prefix')
    expect((await chat(t.url, 'private', 'ok', bearer(secret))).status).toBe(200)
    const stranger = `rbt_${randomBytes(32).toString('base64url')}`
    secrets.add(stranger)
    const reference = await chat(t.url, 'private', 'hi', bearer(stranger))
    for (const miss of nearMisses(secret)) {
      secrets.add(miss)
      const res = await chat(t.url, 'private', 'hi', bearer(miss))
      expectUnauthenticated(res, miss)
      expect(res.json).toEqual(reference.json)
    }
  })

  it('keys: usage errors exit 2 and make no key', async () => {
    const before = (await query(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0].n
    const forms = [[], ['frobnicate'], ['create'], ['create', '--user', 'x', '--scope', 'root'], ['create', '--user', 'x', '--agents', 'Bad Name'], ['create', '--user', 'x', '--bogus'], ['revoke'], ['list', 'extra']]
    const results = await Promise.all(forms.map((args) => cli(...args)))
    results.forEach((result, i) => {
      expect({ args: forms[i], code: result.code }).toEqual({ args: forms[i], code: 2 })
      expect(result.stderr).not.toBe('')
      expect(result.stdout).not.toMatch(SECRET)
    })
    expect((await query(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0].n).toBe(before)
    const help = await cli('help')
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('robutler keys create --user ID [--scope all|owner|admin] [--agents a,b]')
  })

  it('keys without a database, or with one that cannot be reached, exits 1 saying so (never the password)', async () => {
    const none = await authApp()
    try {
      const config = await none.writeConfig({ plugins: { [AUTH_KEYS]: { keys: [] } } })
      const env = cleanEnv()
      delete env.DATABASE_URL
      const result = await runCli(['keys', 'list', '--config', config], { env })
      expect(result.code).toBe(1)
      expect(result.stderr).toContain("no key database: set 'database'")

      const unreachable = await none.writeConfig({ plugins: { [AUTH_KEYS]: { database: 'postgres://robutler:hunter2-pass@127.0.0.1:1/keys' } } })
      const failed = await runCli(['keys', 'create', '--user', 'x', '--config', unreachable])
      expect(failed.code).toBe(1)
      expect(failed.stderr).toContain('127.0.0.1:1/keys')
      expect(failed.stderr).not.toContain('hunter2')
      expect(failed.stdout).not.toMatch(SECRET)
    } finally {
      await none.cleanup()
    }
  })

  it('a database that cannot be reached at register fails startup naming the host, never the password', async () => {
    const logs: string[] = []
    const error = await createServer({
      appDir: app.dir,
      logDestination: { write: (line: string) => void logs.push(line) },
      env: {},
      plugins: { [AUTH_KEYS]: { database: 'postgres://robutler:hunter2-pass@127.0.0.1:1/keys' } },
    }).then(
      () => null,
      (e: unknown) => e as Error & { problems?: unknown },
    )
    expect(error).not.toBeNull()
    const text = `${error!.message} ${JSON.stringify(error!.problems ?? '')} ${logs.join('')}`
    expect(text).toContain('cannot reach the key database at 127.0.0.1:1/keys')
    expect(text).toContain(AUTH_KEYS)
    expect(text).not.toContain('hunter2')
  })

  it('DATABASE_URL is the default database', async () => {
    const logs: string[] = []
    const server = await createServer({
      appDir: app.dir,
      logLevel: 'info',
      logDestination: { write: (line: string) => void logs.push(line) },
      env: { DATABASE_URL },
      plugins: { [AUTH_KEYS]: { table } },
    })
    try {
      const ready = await server.app.inject({ method: 'GET', url: '/ready' })
      expect(ready.json().checks['auth-keys-db']).toEqual({ status: 'ok' })
    } finally {
      await server.close()
      serverLogs.push(...logs)
    }
  })

  describe('when the database goes away', () => {
    let proxy: TcpProxy
    let down: AuthServer
    let fresh: { secret: string }
    let cachedKey: { secret: string }

    beforeAll(async () => {
      const target = new URL(DATABASE_URL)
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
      target.hostname = '127.0.0.1'
      target.port = String(proxy.port)
      down = await startAuthServer(
        app,
        { plugins: { [LOCAL]: {}, [AUTH_KEYS]: { ...section, database: target.toString(), cacheTtlSeconds: 60 } }, agents },
        serverLogs,
      )
      fresh = await createKey('--user', 'u-fresh')
      cachedKey = await createKey('--user', 'u-cached')
      expect((await chat(down.url, 'private', 'warm', bearer(cachedKey.secret))).status).toBe(200)
      await proxy.cut()
    })
    afterAll(async () => {
      await down?.close()
    })

    it('a key that needs a look-up is a 503 with Retry-After (not a 401, not a 500); cached and config keys still work', async () => {
      const res = await chat(down.url, 'private', 'hi', bearer(fresh.secret))
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('1')
      expect(res.json.error).toMatchObject({ code: 'RBT_ERR_AUTH_KEYS_UNAVAILABLE', type: 'server_error' })
      expect(res.text).not.toContain(fresh.secret)
      expect((await chat(down.url, 'private', 'hi', bearer(cachedKey.secret))).status).toBe(200)
      expect((await chat(down.url, 'private', 'hi', bearer(K_USER))).status).toBe(200)
      // A token that cannot be a database key never needs the database.
      expectUnauthenticated(await chat(down.url, 'private', 'hi', bearer('not-a-generated-key')))
    })

    it('/ready fails on the key database check', async () => {
      const ready = await getJson(`${down.url}/ready`)
      expect(ready.status).toBe(503)
      expect(ready.json.failing).toEqual(['auth-keys-db'])
      expect(ready.json.checks['auth-keys-db'].error).toContain('127.0.0.1')
    })
  })

  describe('robutler start with a key from the environment', () => {
    let running: RunningServer | undefined
    afterAll(() => killIfAlive(running?.child))

    it('a config key written as ${ENV} authenticates', async () => {
      const envApp = await authApp()
      try {
        const config = await envApp.writeConfig({
          server: { host: '127.0.0.1', port: 0, logLevel: 'debug' },
          plugins: { [LOCAL]: {}, [AUTH_KEYS]: { keys: [{ key: '${AUTH_KEYS_TEST_KEY}', userId: 'u-env', scope: 'owner' }] } },
          agents,
        })
        running = await startCliServer(['--config', config], { env: cleanEnv({ AUTH_KEYS_TEST_KEY: K_ENV }) })
        expect((await probeScope(running.address, 'private', bearer(K_ENV))).json).toMatchObject({ scope: 'owner' })
        expectUnauthenticated(await chat(running.address, 'private', 'hi'))
        running.child.kill('SIGTERM')
        await running.exited
        serverLogs.push(running.stdout(), running.stderr())
      } finally {
        killIfAlive(running?.child)
        await envApp.cleanup()
      }
    })
  })

  it('no log line of any server in this file holds a secret or a hash of one', () => {
    const log = serverLogs.join('')
    // The logs are real: database keys are named by id when verified and when refused as revoked.
    expect(log).toMatch(/"keyId":"rk_[a-z0-9]{8}","msg":"API key verified against the database"/)
    expect(log).toMatch(/"keyId":"rk_[a-z0-9]{8}","msg":"refused a revoked API key"/)
    expect(secrets.size).toBeGreaterThan(20)
    for (const secret of secrets) {
      const hash = createHash('sha256').update(secret).digest()
      for (const form of [secret, secret.slice(4), hash.toString('hex'), hash.toString('base64'), hash.toString('base64url')]) {
        expect(log.includes(form), `a log line contains ${form === secret ? 'a secret' : 'a hash'}`).toBe(false)
      }
    }
    expect(log).not.toMatch(SECRET)
  })
})
