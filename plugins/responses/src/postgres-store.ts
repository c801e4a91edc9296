// The PostgreSQL store (DATABASE_URL or the plugin's `database`): responses, background runs' events and
// conversations in four tables made at boot (under an advisory lock, so processes starting together do not race).
// New events and cancels are announced with NOTIFY: a stream resumed on another process or instance follows the
// run live, and a cancel reaches the process that runs it. Followers also poll, so a lost notification only delays.
import { EventEmitter } from 'node:events'
import { describeDatabase, postgresMigration, postgresPoolOptions, type KernelApi } from '@robutler/kernel'
import pg from 'pg'
import { ERR_STORE_UNAVAILABLE } from './errors.js'
import type { Item } from './items.js'
import { wakeOf } from './store.js'
import { parseRecord, recordJson, type Page, type PageQuery, type ResponseStore, type StoredConversation, type StoredEvent, type StoredResponse } from './store.js'

const APPLICATION = 'robutler-responses'
const RECONNECT_MS = 1000

interface Tables {
  responses: string
  events: string
  conversations: string
  items: string
  eventsChannel: string
  cancelChannel: string
}

function tablesOf(prefix: string): Tables {
  return {
    responses: prefix,
    events: `${prefix}_events`,
    conversations: `${prefix}_conversations`,
    items: `${prefix}_items`,
    eventsChannel: `${prefix}_events`,
    cancelChannel: `${prefix}_cancel`,
  }
}

async function migrate(pool: pg.Pool, t: Tables): Promise<void> {
  const client = await pool.connect()
  try {
    await postgresMigration(client, t.responses, async () => {
      await client.query(`CREATE TABLE IF NOT EXISTS ${t.responses} (
        id text PRIMARY KEY, owner text, agent text NOT NULL, status text NOT NULL, record json NOT NULL,
        lease_until timestamptz, written_at timestamptz NOT NULL DEFAULT now())`)
      await client.query(`CREATE INDEX IF NOT EXISTS ${t.responses}_running ON ${t.responses} (lease_until) WHERE status IN ('queued', 'in_progress')`)
      await client.query(`CREATE TABLE IF NOT EXISTS ${t.events} (
        response_id text NOT NULL, seq integer NOT NULL, event text NOT NULL, PRIMARY KEY (response_id, seq))`)
      await client.query(`CREATE TABLE IF NOT EXISTS ${t.conversations} (
        id text PRIMARY KEY, owner text, record json NOT NULL, written_at timestamptz NOT NULL DEFAULT now())`)
      await client.query(`CREATE TABLE IF NOT EXISTS ${t.items} (
        conversation_id text NOT NULL, position bigserial, id text NOT NULL, item json NOT NULL, PRIMARY KEY (conversation_id, position))`)
    })
  } finally {
    client.release()
  }
}

type Row = { id: string; owner: string | null; agent: string; record: string }

function recordOf(row: Row): StoredResponse {
  return { ...parseRecord(row.record), id: row.id, owner: row.owner, agent: row.agent }
}

export class PostgresStore implements ResponseStore {
  readonly kind = 'postgres'
  readonly #pool: pg.Pool
  readonly #t: Tables
  readonly #wake = new EventEmitter()
  readonly #connectionString: string
  readonly #log: KernelApi['log']
  #listener: pg.Client | null = null
  #closed = false
  #cancel: (id: string) => void = () => undefined

  private constructor(pool: pg.Pool, tables: Tables, connectionString: string, log: KernelApi['log']) {
    this.#pool = pool
    this.#t = tables
    this.#connectionString = connectionString
    this.#log = log
    this.#wake.setMaxListeners(0)
  }

  /**
   * Connects, migrates, listens. `durable` false (the default) turns off `synchronous_commit` on the store's own
   * connections: a write returns before the WAL reaches the disk (2–3 ms of fsync per response on a common disk),
   * and a crash of PostgreSQL itself may lose the last fraction of a second of responses, never corrupt them.
   */
  static async open(connectionString: string, prefix: string, log: KernelApi['log'], durable = false): Promise<PostgresStore> {
    const options = postgresPoolOptions(connectionString, APPLICATION, 10)
    const pool = new pg.Pool(durable ? options : { ...options, options: '-c synchronous_commit=off' })
    pool.on('error', (error) => log.warn({ err: error }, 'responses: idle PostgreSQL connection failed'))
    const tables = tablesOf(prefix)
    try {
      await migrate(pool, tables)
    } catch (error) {
      await pool.end()
      throw new Error(`cannot prepare the response tables in ${describeDatabase(connectionString)}: ${(error as Error).message}`, { cause: error })
    }
    const store = new PostgresStore(pool, tables, connectionString, log)
    await store.#listen()
    return store
  }

  async #listen(): Promise<void> {
    const { connectionString: _ignored, ...options } = postgresPoolOptions(this.#connectionString, `${APPLICATION}-listen`)
    const client = new pg.Client({ ...options, connectionString: this.#connectionString, query_timeout: undefined })
    client.on('notification', (message) => {
      if (message.channel === this.#t.eventsChannel) this.#wake.emit(message.payload ?? '')
      else if (message.channel === this.#t.cancelChannel && message.payload) this.#cancel(message.payload)
    })
    client.on('error', (error) => {
      this.#log.warn({ err: error }, 'responses: the PostgreSQL listener failed; reconnecting')
      this.#listener = null
      client.end().catch(() => undefined)
      if (!this.#closed) setTimeout(() => void this.#listen().catch(() => undefined), RECONNECT_MS).unref()
    })
    await client.connect()
    await client.query(`LISTEN ${this.#t.eventsChannel}`)
    await client.query(`LISTEN ${this.#t.cancelChannel}`)
    this.#listener = client
  }

  async #query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.#pool.query<R>(text, values)
    } catch (error) {
      this.#log.error({ err: error }, 'responses: a PostgreSQL query failed')
      throw ERR_STORE_UNAVAILABLE(describeDatabase(this.#connectionString), error as Error)
    }
  }

  async putResponse(record: StoredResponse, responseJson?: string): Promise<void> {
    await this.#query(
      `INSERT INTO ${this.#t.responses} (id, owner, agent, status, record) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, record = EXCLUDED.record, written_at = now()`,
      [record.id, record.owner, record.agent, String(record.response.status ?? 'completed'), recordJson(record, responseJson)],
    )
  }

  async getResponse(id: string): Promise<StoredResponse | null> {
    const { rows } = await this.#query<Row>(`SELECT id, owner, agent, record::text AS record FROM ${this.#t.responses} WHERE id = $1`, [id])
    return rows[0] ? recordOf(rows[0]) : null
  }

  async deleteResponse(id: string): Promise<boolean> {
    const { rowCount } = await this.#query(`DELETE FROM ${this.#t.responses} WHERE id = $1`, [id])
    await this.#query(`DELETE FROM ${this.#t.events} WHERE response_id = $1`, [id])
    return (rowCount ?? 0) > 0
  }

  async appendEvents(id: string, events: StoredEvent[]): Promise<void> {
    if (events.length === 0) return
    await this.#query(
      `WITH added AS (INSERT INTO ${this.#t.events} (response_id, seq, event) SELECT $1, * FROM unnest($2::int[], $3::text[]))
       SELECT pg_notify($4, $1)`,
      [id, events.map((event) => event.sequence), events.map((event) => event.json), this.#t.eventsChannel],
    )
  }

  async readEvents(id: string, after: number): Promise<StoredEvent[]> {
    const { rows } = await this.#query<{ seq: number; event: string }>(
      `SELECT seq, event FROM ${this.#t.events} WHERE response_id = $1 AND seq > $2 ORDER BY seq`,
      [id, after],
    )
    return rows.map((row) => ({ sequence: row.seq, json: row.event }))
  }

  waitEvents(id: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return wakeOf(this.#wake, id, timeoutMs, signal)
  }

  async requestCancel(id: string): Promise<void> {
    await this.#query('SELECT pg_notify($1, $2)', [this.#t.cancelChannel, id])
  }

  onCancel(handler: (id: string) => void): void {
    this.#cancel = handler
  }

  async renewLeases(ids: string[], until: number): Promise<void> {
    await this.#query(`UPDATE ${this.#t.responses} SET lease_until = to_timestamp($2 / 1000.0) WHERE id = ANY($1) AND status IN ('queued', 'in_progress')`, [ids, until])
  }

  async sweepLost(now: number, fail: (record: StoredResponse, nextSequence: number) => StoredEvent[]): Promise<string[]> {
    const client = await this.#pool.connect()
    const lost: string[] = []
    try {
      await client.query('BEGIN')
      const { rows } = await client.query<Row>(
        `SELECT id, owner, agent, record::text AS record FROM ${this.#t.responses}
         WHERE status IN ('queued', 'in_progress') AND lease_until < to_timestamp($1 / 1000.0) FOR UPDATE SKIP LOCKED`,
        [now],
      )
      for (const row of rows) {
        const record = recordOf(row)
        const { rows: last } = await client.query<{ next: number }>(`SELECT coalesce(max(seq), -1) + 1 AS next FROM ${this.#t.events} WHERE response_id = $1`, [row.id])
        const events = fail(record, last[0]!.next)
        await client.query(`INSERT INTO ${this.#t.events} (response_id, seq, event) SELECT $1, * FROM unnest($2::int[], $3::text[])`, [
          row.id,
          events.map((event) => event.sequence),
          events.map((event) => event.json),
        ])
        await client.query(`UPDATE ${this.#t.responses} SET status = 'failed', record = $2, written_at = now() WHERE id = $1`, [row.id, recordJson(record)])
        await client.query('SELECT pg_notify($1, $2)', [this.#t.eventsChannel, row.id])
        lost.push(row.id)
      }
      await client.query('COMMIT')
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw error
    } finally {
      client.release()
    }
    if (lost.length > 0) this.#log.warn({ responses: lost }, 'responses: background runs whose process died were marked failed')
    return lost
  }

  async expire(before: number): Promise<void> {
    const at = [before]
    await this.#query(`DELETE FROM ${this.#t.events} e USING ${this.#t.responses} r WHERE e.response_id = r.id AND r.written_at < to_timestamp($1 / 1000.0)`, at)
    await this.#query(`DELETE FROM ${this.#t.responses} WHERE written_at < to_timestamp($1 / 1000.0)`, at)
    await this.#query(`DELETE FROM ${this.#t.items} i USING ${this.#t.conversations} c WHERE i.conversation_id = c.id AND c.written_at < to_timestamp($1 / 1000.0)`, at)
    await this.#query(`DELETE FROM ${this.#t.conversations} WHERE written_at < to_timestamp($1 / 1000.0)`, at)
  }

  async createConversation(record: StoredConversation, items: Item[]): Promise<void> {
    await this.#query(`INSERT INTO ${this.#t.conversations} (id, owner, record) VALUES ($1, $2, $3)`, [record.id, record.owner, JSON.stringify(record.conversation)])
    await this.addItems(record.id, items)
  }

  async getConversation(id: string): Promise<StoredConversation | null> {
    const { rows } = await this.#query<{ id: string; owner: string | null; record: StoredConversation['conversation'] }>(
      `SELECT id, owner, record FROM ${this.#t.conversations} WHERE id = $1`,
      [id],
    )
    const row = rows[0]
    return row ? { id: row.id, owner: row.owner, conversation: row.record } : null
  }

  async updateConversation(record: StoredConversation): Promise<void> {
    await this.#query(`UPDATE ${this.#t.conversations} SET record = $2, written_at = now() WHERE id = $1`, [record.id, JSON.stringify(record.conversation)])
  }

  async deleteConversation(id: string): Promise<boolean> {
    const { rowCount } = await this.#query(`DELETE FROM ${this.#t.conversations} WHERE id = $1`, [id])
    await this.#query(`DELETE FROM ${this.#t.items} WHERE conversation_id = $1`, [id])
    return (rowCount ?? 0) > 0
  }

  async addItems(conversation: string, items: Item[]): Promise<void> {
    if (items.length === 0) return
    await this.#query(`INSERT INTO ${this.#t.items} (conversation_id, id, item) SELECT $1, * FROM unnest($2::text[], $3::json[])`, [
      conversation,
      items.map((item) => String(item.id)),
      items.map((item) => JSON.stringify(item)),
    ])
    await this.#query(`UPDATE ${this.#t.conversations} SET written_at = now() WHERE id = $1`, [conversation])
  }

  async allItems(conversation: string): Promise<Item[]> {
    const { rows } = await this.#query<{ item: Item }>(`SELECT item FROM ${this.#t.items} WHERE conversation_id = $1 ORDER BY position`, [conversation])
    return rows.map((row) => row.item)
  }

  async listItems(conversation: string, query: PageQuery): Promise<Page<Item>> {
    const desc = query.order === 'desc'
    let after: string | null = null
    if (query.after !== undefined) {
      const { rows } = await this.#query<{ position: string }>(`SELECT position FROM ${this.#t.items} WHERE conversation_id = $1 AND id = $2`, [conversation, query.after])
      after = rows[0]?.position ?? (desc ? '0' : '9223372036854775807')
    }
    const { rows } = await this.#query<{ item: Item }>(
      `SELECT item FROM ${this.#t.items} WHERE conversation_id = $1 AND ($2::bigint IS NULL OR position ${desc ? '<' : '>'} $2::bigint)
       ORDER BY position ${desc ? 'DESC' : 'ASC'} LIMIT $3`,
      [conversation, after, query.limit + 1],
    )
    return { data: rows.slice(0, query.limit).map((row) => row.item), has_more: rows.length > query.limit }
  }

  async getItem(conversation: string, item: string): Promise<Item | null> {
    const { rows } = await this.#query<{ item: Item }>(`SELECT item FROM ${this.#t.items} WHERE conversation_id = $1 AND id = $2`, [conversation, item])
    return rows[0]?.item ?? null
  }

  async deleteItem(conversation: string, item: string): Promise<boolean> {
    const { rowCount } = await this.#query(`DELETE FROM ${this.#t.items} WHERE conversation_id = $1 AND id = $2`, [conversation, item])
    return (rowCount ?? 0) > 0
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#wake.removeAllListeners()
    await this.#listener?.end().catch(() => undefined)
    await this.#pool.end()
  }
}
