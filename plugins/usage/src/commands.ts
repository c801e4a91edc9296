// `robutler usage`: the usage report from the database, as a table or JSON (the same figures as GET /usage).
import { parseArgs } from 'node:util'
import { describeConnectionError, describeDatabase, type CommandContext, type PluginCommand } from '@robutler/kernel'
import { settingsFrom, type UsageConfig } from './config.js'
import { openPool, PostgresStore } from './postgres-store.js'
import { GROUPINGS, parseSince, type Grouping, type Report } from './report.js'

const OK = 0
const FAILURE = 1
const USAGE = 2

export const USAGE_USAGE = `usage [--by ${GROUPINGS.join('|')}] [--since 2026-01-01|24h|7d] [--json]`

function table(report: Report): string {
  const head = [report.by, 'requests', 'calls', 'prompt', 'completion', 'cached', 'reasoning', 'total', 'cost']
  const line = (group: string, r: Omit<Report['rows'][number], 'group'>) => [
    group,
    String(r.requests),
    String(r.calls),
    String(r.promptTokens),
    String(r.completionTokens),
    String(r.cachedTokens),
    String(r.reasoningTokens),
    String(r.totalTokens),
    r.cost === null ? '-' : r.cost.toFixed(6),
  ]
  const rows = [head, ...report.rows.map((r) => line(r.group ?? '(none)', r)), line('total', report.total)]
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n') + '\n'
}

async function run(args: string[], context: CommandContext<UsageConfig>): Promise<number> {
  let values: { by?: string; since?: string; json?: boolean; help?: boolean }
  try {
    values = parseArgs({ args, options: { by: { type: 'string' }, since: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values
  } catch (error) {
    context.stderr(`robutler usage: ${(error as Error).message}\nUsage: robutler ${USAGE_USAGE}\n`)
    return USAGE
  }
  if (values.help) {
    context.stdout(`Usage: robutler ${USAGE_USAGE}\n\nAdds up the usage records in @robutler/plugin-usage's database (config 'database' or DATABASE_URL).\n`)
    return OK
  }
  const by = (values.by ?? 'user') as Grouping
  if (!GROUPINGS.includes(by)) {
    context.stderr(`robutler usage: --by must be one of ${GROUPINGS.join(', ')}, got '${values.by}'\n`)
    return USAGE
  }
  const since = parseSince(values.since)
  if (since === 'invalid') {
    context.stderr(`robutler usage: --since must be an ISO date or time, or a span such as 24h or 7d, got '${values.since}'\n`)
    return USAGE
  }
  const settings = settingsFrom(context.config ?? {}, context.env)
  if (settings.database === null) {
    context.stderr("robutler usage: no database: set plugin-usage's 'database' or DATABASE_URL (without one, usage is kept in each server's memory: GET /usage)\n")
    return FAILURE
  }
  const pool = openPool(settings.database, 1)
  try {
    const store = new PostgresStore(pool, settings.table, { flushMs: 1000, onError: () => undefined, timer: false })
    const report = await store.report({ by, since })
    context.stdout(values.json ? `${JSON.stringify(report, null, 2)}\n` : table(report))
    return OK
  } catch (error) {
    context.stderr(`robutler usage: cannot read the usage database at ${describeDatabase(settings.database)}: ${describeConnectionError(error, settings.database)}\n`)
    return FAILURE
  } finally {
    await pool.end()
  }
}

export const usageCommand: PluginCommand<UsageConfig> = {
  description: 'Prints token and cost usage from the usage database, by user, key, agent, model, day or surface',
  usage: USAGE_USAGE,
  run,
}
