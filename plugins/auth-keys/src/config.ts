// The plugin's config section (config.schema.json, defaults applied by the kernel) and what follows from it.
import type { Scope } from '@robutler/kernel'

export interface ConfigKey {
  /** The secret itself, usually `${ENV}` in the config file (interpolated before the plugin sees it). */
  key: string
  userId: string
  scope?: Scope
  agents?: string[]
  /** Public name in logs and identities (default `config-<position>`). */
  id?: string
  /** The key's own budget (`5usd/month`), enforced by plugin-usage. */
  budget?: string
}

export interface AuthKeysConfig {
  keys?: ConfigKey[]
  /** PostgreSQL connection string (default `DATABASE_URL`). */
  database?: string
  table?: string
  cacheTtlSeconds?: number
  cacheSize?: number
}

export const DEFAULT_TABLE = 'robutler_api_keys'
export const DEFAULT_CACHE_TTL_SECONDS = 30
export const DEFAULT_CACHE_SIZE = 10_000

export interface Settings {
  keys: ConfigKey[]
  /** Null when neither `database` nor `DATABASE_URL` is set: there is no database store. */
  database: string | null
  table: string
  cacheTtlMs: number
  cacheSize: number
}

/** The section with its defaults, the database falling back to the environment's `DATABASE_URL`. */
export function settingsFrom(config: AuthKeysConfig | undefined, env: Readonly<Record<string, string | undefined>>): Settings {
  const section = config ?? {}
  return {
    keys: section.keys ?? [],
    database: section.database || env.DATABASE_URL || null,
    table: section.table ?? DEFAULT_TABLE,
    cacheTtlMs: (section.cacheTtlSeconds ?? DEFAULT_CACHE_TTL_SECONDS) * 1000,
    cacheSize: section.cacheSize ?? DEFAULT_CACHE_SIZE,
  }
}
