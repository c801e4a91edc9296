// Records in PostgreSQL: buffered and written in one INSERT per flush (every `flushMs`, default 1 s), so a crash
// loses at most the last flush period's records. Writes are idempotent by record id (ON CONFLICT DO NOTHING).
import { postgresMigration, postgresPoolOptions } from '@robutler/kernel'
import pg from 'pg'
import { finish, type Grouping, type Report, type ReportQuery, type ReportRow } from './report.js'
import type { UsageRecord } from './record.js'
import type { Spent, UsageStore } from './store.js'

/** Records kept while the database is away, before the oldest are dropped (with a warning). */
const MAX_PENDING = 200_000

export function quoteTable(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.')
}

const GROUP_SQL: Record<Grouping, string> = {
  user: 'user_id',
  key: 'key_id',
  agent: 'agent',
  model: 'model',
  surface: 'surface',
  day: "to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}

const SUBJECT_SQL = { user: 'user_id', key: 'key_id', agent: 'agent' } as const

export function openPool(connectionString: string, max?: number): pg.Pool {
  return new pg.Pool(postgresPoolOptions(connectionString, 'robutler-usage', max))
}

/** Creates the table and its indexes when missing; processes starting together take turns (advisory lock). */
export async function migrate(db: pg.Pool, table: string): Promise<void> {
  const t = quoteTable(table)
  const index = table.replace(/\./g, '_')
  const client = await db.connect()
  try {
    await postgresMigration(client, `robutler-usage:${table}`, async () => {
      await client.query(`CREATE TABLE IF NOT EXISTS ${t} (
        id text PRIMARY KEY,
        time timestamptz NOT NULL,
        request_id text NOT NULL,
        agent text NOT NULL,
        model text NOT NULL,
        user_id text,
        key_id text,
        surface text NOT NULL,
        prompt_tokens bigint NOT NULL,
        completion_tokens bigint NOT NULL,
        cached_tokens bigint NOT NULL DEFAULT 0,
        reasoning_tokens bigint NOT NULL DEFAULT 0,
        cost double precision
      )`)
      await client.query(`CREATE INDEX IF NOT EXISTS "${index}_time" ON ${t} (time)`)
      await client.query(`CREATE INDEX IF NOT EXISTS "${index}_user" ON ${t} (user_id, time)`)
      await client.query(`CREATE INDEX IF NOT EXISTS "${index}_key" ON ${t} (key_id, time)`)
    })
  } finally {
    client.release()
  }
}

interface GroupRow {
  group: string | null
  calls: string
  requests: string
  prompt: string
  completion: string
  cached: string
  reasoning: string
  cost: number | null
  unpriced: string
}

export class PostgresStore implements UsageStore {
  readonly kind = 'postgres'
  readonly #db: pg.Pool
  readonly #table: string
  readonly #onError: (error: unknown, dropped: number) => void
  #pending: UsageRecord[] = []
  #flushing: Promise<void> | null = null
  readonly #timer: NodeJS.Timeout | null

  constructor(db: pg.Pool, table: string, options: { flushMs: number; onError: (error: unknown, dropped: number) => void; timer?: boolean }) {
    this.#db = db
    this.#table = quoteTable(table)
    this.#onError = options.onError
    this.#timer = options.timer === false ? null : setInterval(() => void this.flush(), options.flushMs)
    this.#timer?.unref()
  }

  add(record: UsageRecord): void {
    this.#pending.push(record)
  }

  /** Writes the pending records in one statement; a failed write keeps them for the next flush. */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing.then(() => (this.#pending.length > 0 ? this.flush() : undefined))
    if (this.#pending.length === 0) return Promise.resolve()
    const batch = this.#pending
    this.#pending = []
    this.#flushing = this.#write(batch)
      .catch((error: unknown) => {
        this.#pending = batch.concat(this.#pending)
        const dropped = Math.max(0, this.#pending.length - MAX_PENDING)
        if (dropped > 0) this.#pending = this.#pending.slice(dropped)
        this.#onError(error, dropped)
      })
      .finally(() => {
        this.#flushing = null
      })
    return this.#flushing
  }

  async #write(batch: UsageRecord[]): Promise<void> {
    const cols: unknown[][] = [[], [], [], [], [], [], [], [], [], [], [], [], []]
    for (const r of batch) {
      const values = [r.id, new Date(r.time), r.requestId, r.agent, r.model, r.userId, r.keyId, r.surface, r.promptTokens, r.completionTokens, r.cachedTokens, r.reasoningTokens, r.cost]
      for (let i = 0; i < values.length; i++) cols[i]!.push(values[i])
    }
    await this.#db.query(
      `INSERT INTO ${this.#table} (id, time, request_id, agent, model, user_id, key_id, surface, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost)
       SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                            $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::float8[])
       ON CONFLICT (id) DO NOTHING`,
      cols,
    )
  }

  async report(query: ReportQuery): Promise<Report> {
    const where: string[] = []
    const values: unknown[] = []
    if (query.since) {
      values.push(query.since)
      where.push(`time >= $${values.length}`)
    }
    if (query.userId !== undefined) {
      values.push(query.userId)
      where.push(`user_id = $${values.length}`)
    }
    const result = await this.#db.query<GroupRow>(
      `SELECT ${GROUP_SQL[query.by]} AS "group", count(*) AS calls, count(DISTINCT request_id) AS requests,
              sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion, sum(cached_tokens) AS cached,
              sum(reasoning_tokens) AS reasoning, sum(cost) AS cost, count(*) FILTER (WHERE cost IS NULL) AS unpriced
       FROM ${this.#table} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} GROUP BY 1`,
      values,
    )
    const rows = result.rows.map((row): ReportRow => {
      const prompt = Number(row.prompt)
      const completion = Number(row.completion)
      return {
        group: row.group,
        calls: Number(row.calls),
        requests: Number(row.requests),
        promptTokens: prompt,
        completionTokens: completion,
        cachedTokens: Number(row.cached),
        reasoningTokens: Number(row.reasoning),
        totalTokens: prompt + completion,
        cost: row.cost === null ? null : Number(row.cost),
        unpricedCalls: Number(row.unpriced),
      }
    })
    return finish(rows, query)
  }

  async spent(on: 'user' | 'key' | 'agent', subject: string, since: Date, recentSince: Date): Promise<Spent & { recent: string[] }> {
    const column = SUBJECT_SQL[on]
    const sums = await this.#db.query<{ tokens: string | null; cost: number | null; requests: string }>(
      `SELECT sum(prompt_tokens + completion_tokens) AS tokens, sum(cost) AS cost, count(DISTINCT request_id) AS requests
       FROM ${this.#table} WHERE ${column} = $1 AND time >= $2`,
      [subject, since],
    )
    const recent = await this.#db.query<{ id: string }>(`SELECT id FROM ${this.#table} WHERE ${column} = $1 AND time >= $2`, [
      subject,
      recentSince < since ? since : recentSince,
    ])
    const row = sums.rows[0]!
    return { tokens: Number(row.tokens ?? 0), cost: Number(row.cost ?? 0), requests: Number(row.requests), recent: recent.rows.map((r) => r.id) }
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    await this.flush()
    if (this.#pending.length > 0) this.#onError(new Error('the database is unreachable'), this.#pending.length)
  }
}
