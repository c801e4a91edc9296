// The agent table and its notify trigger, created when missing. Every change to a row (and a TRUNCATE) sends
// `{"op", "table", "name"}` on the `robutler_agents` channel, so each instance drops that agent from its cache.
import type pg from 'pg'
import { postgresMigration } from '@robutler/kernel'

/** The LISTEN/NOTIFY channel every agent table notifies on; the payload's `table` says which table changed. */
export const CHANNEL = 'robutler_agents'

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`

/** The SQL names that follow from the configured table (`name` or `schema.name`). */
export interface TableNames {
  /** The configured name, as written. */
  table: string
  /** The table, quoted for SQL. */
  sql: string
  /** The trigger function, in the table's schema (`<table>_notify`). */
  notifyFunction: string
}

export function tableNames(table: string): TableNames {
  const parts = table.split('.')
  const name = parts[parts.length - 1]!
  const schema = parts.length > 1 ? `${quote(parts[0]!)}.` : ''
  return { table, sql: parts.map(quote).join('.'), notifyFunction: `${schema}${quote(`${name}_notify`)}` }
}

function functionSql(names: TableNames): string {
  // The table's own schema and name travel in the payload: one channel serves every agent table in the database,
  // and an instance ignores tables that are not its own.
  return `CREATE OR REPLACE FUNCTION ${names.notifyFunction}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  source text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM pg_notify('${CHANNEL}', json_build_object('op', TG_OP, 'table', source, 'name', NULL)::text);
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.name IS DISTINCT FROM NEW.name THEN
    PERFORM pg_notify('${CHANNEL}', json_build_object('op', TG_OP, 'table', source, 'name', OLD.name)::text);
  END IF;
  PERFORM pg_notify('${CHANNEL}', json_build_object('op', TG_OP, 'table', source,
    'name', CASE WHEN TG_OP = 'DELETE' THEN OLD.name ELSE NEW.name END)::text);
  RETURN NULL;
END
$fn$`
}

const ROW_TRIGGER = 'robutler_agents_notify'
const TRUNCATE_TRIGGER = 'robutler_agents_notify_truncate'

/**
 * Creates the table, its trigger function and triggers when missing, in one transaction (postgresMigration:
 * processes starting together take turns; CREATE OR REPLACE FUNCTION can collide too).
 * Answers the table's `schema.name`, as notifications spell it.
 */
export async function migrate(client: pg.ClientBase, names: TableNames): Promise<string> {
  return postgresMigration(client, `robutler-agents-postgres:${names.table}`, async () => {
    await client.query(`CREATE TABLE IF NOT EXISTS ${names.sql} (
      name text PRIMARY KEY,
      config jsonb NOT NULL,
      enabled boolean NOT NULL DEFAULT true,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`)
    await client.query(functionSql(names))
    const existing = await client.query<{ tgname: string }>(
      'SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname = ANY($2)',
      [names.sql, [ROW_TRIGGER, TRUNCATE_TRIGGER]],
    )
    const has = new Set(existing.rows.map((row) => row.tgname))
    // Created only when missing: DROP + CREATE on every start would take an exclusive lock on a live table.
    if (!has.has(ROW_TRIGGER)) {
      await client.query(
        `CREATE TRIGGER ${ROW_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON ${names.sql} FOR EACH ROW EXECUTE FUNCTION ${names.notifyFunction}()`,
      )
    }
    if (!has.has(TRUNCATE_TRIGGER)) {
      await client.query(
        `CREATE TRIGGER ${TRUNCATE_TRIGGER} AFTER TRUNCATE ON ${names.sql} FOR EACH STATEMENT EXECUTE FUNCTION ${names.notifyFunction}()`,
      )
    }
    const found = await client.query<{ source: string }>(
      `SELECT n.nspname || '.' || c.relname AS source FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass`,
      [names.sql],
    )
    return found.rows[0]!.source
  })
}
