// The plugin's config section (config.schema.json, defaults applied by the kernel) and what follows from it.

export interface AgentsPostgresConfig {
  /** PostgreSQL connection string (default `DATABASE_URL`). */
  database?: string
  /** `name` or `schema.name` (default `robutler_agents`). */
  table?: string
  /** Loader priority: lower runs first (default 100). */
  priority?: number
}

export const DEFAULT_TABLE = 'robutler_agents'
export const DEFAULT_PRIORITY = 100

export interface Settings {
  /** Null when neither `database` nor `DATABASE_URL` is set. */
  database: string | null
  table: string
  priority: number
}

/** The section with its defaults, the database falling back to the environment's `DATABASE_URL`. */
export function settingsFrom(config: AgentsPostgresConfig | undefined, env: Readonly<Record<string, string | undefined>>): Settings {
  const section = config ?? {}
  return {
    database: section.database || env.DATABASE_URL || null,
    table: section.table ?? DEFAULT_TABLE,
    priority: section.priority ?? DEFAULT_PRIORITY,
  }
}

/** Said by register and by every CLI verb when there is no database to use. */
export const NO_DATABASE =
  "no agent database: set 'database' in the @robutler/plugin-agents-postgres section of the config, or DATABASE_URL"
