// The PostgreSQL key table: one row per key, holding its SHA-256 hash and never the secret.
import type pg from 'pg'
import { postgresMigration, type Scope } from '@robutler/kernel'
import { hashSecret, newKeyId, newSecret } from './secrets.js'

export interface StoredKey {
  id: string
  /** SHA-256 of the secret, 32 bytes. */
  hash: Buffer
  userId: string
  scope: Scope
  agents: string[] | null
  /** The key's own budget as written (`5usd/month`), or null. */
  budget: string | null
  createdAt: Date
  revokedAt: Date | null
  lastUsedAt: Date | null
}

/** What `list` shows: everything but the hash. */
export type KeyListing = Omit<StoredKey, 'hash'>

export interface NewKey {
  userId: string
  scope: Scope
  agents: string[] | null
  budget?: string | null
}

export type RevokeOutcome = { status: 'revoked'; revokedAt: Date } | { status: 'already-revoked'; revokedAt: Date } | { status: 'unknown' }

const ID_ATTEMPTS = 5
const UNIQUE_VIOLATION = '23505'

/** `"name"` or `"schema"."name"`; the config schema has already limited the name to letters, digits and `_`. */
export function quoteTable(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.')
}

interface Row {
  id: string
  hash: Buffer
  user_id: string
  scope: Scope
  agents: string[] | null
  budget: string | null
  created_at: Date
  revoked_at: Date | null
  last_used_at: Date | null
}

function fromRow(row: Row): StoredKey {
  return { ...listingOf(row), hash: row.hash }
}

function listingOf(row: Omit<Row, 'hash'>): KeyListing {
  return {
    id: row.id,
    userId: row.user_id,
    scope: row.scope,
    agents: row.agents,
    budget: row.budget ?? null,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  }
}

export class KeyStore {
  readonly #db: pg.Pool
  readonly #table: string
  readonly #name: string
  readonly #sql: { lookup: string; touch: string; insert: string; list: string; revoke: string; find: string }

  constructor(db: pg.Pool, table: string) {
    this.#db = db
    this.#name = table
    this.#table = quoteTable(table)
    const t = this.#table
    this.#sql = {
      lookup: `SELECT id, hash, user_id, scope, agents, budget, created_at, revoked_at, last_used_at FROM ${t} WHERE hash = $1`,
      touch: `UPDATE ${t} SET last_used_at = now() WHERE id = $1`,
      insert: `INSERT INTO ${t} (id, hash, user_id, scope, agents, budget) VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
      list: `SELECT id, user_id, scope, agents, budget, created_at, revoked_at, last_used_at FROM ${t} ORDER BY created_at, id`,
      revoke: `UPDATE ${t} SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING revoked_at`,
      find: `SELECT revoked_at FROM ${t} WHERE id = $1`,
    }
  }

  /**
   * Creates the table when it is missing (postgresMigration: processes starting together take turns).
   */
  async migrate(): Promise<void> {
    const client = await this.#db.connect()
    try {
      await postgresMigration(client, `robutler-auth-keys:${this.#name}`, async () => {
        await client.query(`CREATE TABLE IF NOT EXISTS ${this.#table} (
          id text PRIMARY KEY,
          hash bytea NOT NULL UNIQUE,
          user_id text NOT NULL,
          scope text NOT NULL DEFAULT 'all' CHECK (scope IN ('all', 'owner', 'admin')),
          agents text[],
          created_at timestamptz NOT NULL DEFAULT now(),
          revoked_at timestamptz,
          last_used_at timestamptz
        )`)
        // Added by issue 21 (a key's own budget): tables made before it get the column.
        await client.query(`ALTER TABLE ${this.#table} ADD COLUMN IF NOT EXISTS budget text`)
      })
    } finally {
      client.release()
    }
  }

  /** The key whose hash this is, revoked or not; null when there is none. */
  async lookup(hash: Buffer): Promise<StoredKey | null> {
    const result = await this.#db.query<Row>(this.#sql.lookup, [hash])
    return result.rows.length > 0 ? fromRow(result.rows[0]!) : null
  }

  /** Records that a key was used (at most once per cache period per process). */
  async touch(id: string): Promise<void> {
    await this.#db.query(this.#sql.touch, [id])
  }

  /** Makes a key and stores its hash; the secret is returned to be shown once, and kept nowhere. */
  async create(key: NewKey): Promise<{ id: string; secret: string; createdAt: Date }> {
    for (let attempt = 1; ; attempt++) {
      const id = newKeyId()
      const secret = newSecret()
      try {
        const result = await this.#db.query<{ created_at: Date }>(this.#sql.insert, [id, hashSecret(secret), key.userId, key.scope, key.agents, key.budget ?? null])
        return { id, secret, createdAt: result.rows[0]!.created_at }
      } catch (error) {
        // Another key already has this id (or, with 2^-256 odds, this hash): draw again.
        if ((error as { code?: string }).code !== UNIQUE_VIOLATION || attempt >= ID_ATTEMPTS) throw error
      }
    }
  }

  async list(): Promise<KeyListing[]> {
    const result = await this.#db.query<Omit<Row, 'hash'>>(this.#sql.list)
    return result.rows.map(listingOf)
  }

  async revoke(id: string): Promise<RevokeOutcome> {
    const updated = await this.#db.query<{ revoked_at: Date }>(this.#sql.revoke, [id])
    if (updated.rows.length > 0) return { status: 'revoked', revokedAt: updated.rows[0]!.revoked_at }
    const found = await this.#db.query<{ revoked_at: Date | null }>(this.#sql.find, [id])
    if (found.rows.length === 0) return { status: 'unknown' }
    return { status: 'already-revoked', revokedAt: found.rows[0]!.revoked_at! }
  }
}
