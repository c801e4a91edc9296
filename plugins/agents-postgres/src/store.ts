// The agent table's rows: what the loader reads and what `robutler agents …` writes.
import type pg from 'pg'
import type { TableNames } from './migrate.js'

export interface AgentRow {
  name: string
  /** The stored JSON, whatever it is: the kernel validates it as an agent config when it loads it. */
  config: unknown
  enabled: boolean
}

export interface AgentListing {
  name: string
  enabled: boolean
  updatedAt: Date
  /** `config.model` when it is a string. */
  model: string | null
}

type Queryable = Pick<pg.Pool, 'query'>

export class AgentStore {
  readonly #db: Queryable
  readonly #sql: { find: string; list: string; put: string; remove: string }

  constructor(db: Queryable, names: TableNames) {
    this.#db = db
    const t = names.sql
    this.#sql = {
      find: `SELECT config, enabled FROM ${t} WHERE name = $1`,
      list: `SELECT name, enabled, updated_at, CASE WHEN jsonb_typeof(config->'model') = 'string' THEN config->>'model' END AS model FROM ${t} ORDER BY name`,
      put: `INSERT INTO ${t} (name, config) VALUES ($1, $2)
            ON CONFLICT (name) DO UPDATE SET config = EXCLUDED.config, updated_at = now()
            RETURNING (xmax = 0) AS inserted`,
      remove: `DELETE FROM ${t} WHERE name = $1 RETURNING name`,
    }
  }

  /** The row of one agent, enabled or not; null when there is none. */
  async find(name: string): Promise<AgentRow | null> {
    const result = await this.#db.query<{ config: unknown; enabled: boolean }>(this.#sql.find, [name])
    const row = result.rows[0]
    return row ? { name, config: row.config, enabled: row.enabled } : null
  }

  async list(): Promise<AgentListing[]> {
    const result = await this.#db.query<{ name: string; enabled: boolean; updated_at: Date; model: string | null }>(this.#sql.list)
    return result.rows.map((row) => ({ name: row.name, enabled: row.enabled, updatedAt: row.updated_at, model: row.model }))
  }

  /** Inserts or replaces an agent's config (an existing row keeps its `enabled`); true when it was new. */
  async put(name: string, config: Record<string, unknown>): Promise<boolean> {
    // pg would send a JS object as JSON anyway; stringify keeps arrays nested inside it from becoming PG arrays.
    const result = await this.#db.query<{ inserted: boolean }>(this.#sql.put, [name, JSON.stringify(config)])
    return result.rows[0]!.inserted
  }

  /** True when there was such an agent. */
  async remove(name: string): Promise<boolean> {
    const result = await this.#db.query(this.#sql.remove, [name])
    return (result.rowCount ?? 0) > 0
  }
}
