// `robutler agents list|get|put|delete`: manage the agent table from the operator's shell. Every running
// instance sees a change within about a second, through the table's notify trigger.
import { readFile } from 'node:fs/promises'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { agentNameProblem, describeConnectionError, isModelString, type CommandContext, type PluginCommand } from '@robutler/kernel'
import { NO_DATABASE, settingsFrom, type AgentsPostgresConfig } from './config.js'
import { describeDatabase, openPool } from './database.js'
import { migrate, tableNames } from './migrate.js'
import { AgentStore, type AgentListing } from './store.js'

type Context = CommandContext<AgentsPostgresConfig>

const OK = 0
const FAILURE = 1
const USAGE = 2


export const AGENTS_USAGE = ['agents list [--json]', 'agents get NAME', 'agents put NAME [FILE|-]', 'agents delete NAME'].join('\n')

const HELP = `Manage the dynamic agents of @robutler/plugin-agents-postgres (config 'database' or DATABASE_URL).

Usage:
${AGENTS_USAGE.replace(/^/gm, '  robutler ')}

  list     every agent: name, enabled, last update, model
  get      prints an agent's config as JSON
  put      creates or replaces an agent from a JSON file (or stdin: '-' or no FILE); it must be an object with a
           "model" string such as "openai/gpt-4o"; the agent's name is NAME
  delete   removes an agent
Running servers see every change within about a second.

Exit codes: 0 done, 1 failed, 2 usage error.
`

class UsageError extends Error {}
/** A failure the operator can fix (a missing agent, a bad config file): reported without a database message. */
class Refusal extends Error {}

type Work = (store: AgentStore) => Promise<number>

function parse(args: string[], options: ParseArgsConfig['options'], names: string[], optional = 0) {
  let parsed
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const given = parsed.positionals
  if (given.length < names.length - optional) throw new UsageError(`${names[given.length]} is required`)
  if (given.length > names.length) throw new UsageError(`unexpected argument '${given[names.length]}'`)
  return { values: parsed.values, positionals: given }
}

function agentName(value: string): string {
  const problem = agentNameProblem(value)
  if (problem !== null) throw new UsageError(`'${value}' is not an agent name: ${problem}`)
  return value
}

const when = (date: Date) => date.toISOString()

function table(agents: AgentListing[]): string {
  const header = ['NAME', 'ENABLED', 'UPDATED', 'MODEL']
  const rows = agents.map((a) => [a.name, a.enabled ? 'yes' : 'no', when(a.updatedAt), a.model ?? '-'])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n'
}

async function readSource(source: string | undefined): Promise<{ text: string; from: string }> {
  if (source === undefined || source === '-') {
    if (process.stdin.isTTY) throw new UsageError('give a FILE, or pipe the JSON config on stdin')
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return { text: Buffer.concat(chunks).toString('utf8'), from: 'stdin' }
  }
  try {
    return { text: await readFile(source, 'utf8'), from: source }
  } catch (error) {
    throw new Refusal(`cannot read ${source}: ${(error as Error).message}`)
  }
}

/** The config to store: a JSON object with a model string, naming NAME or nothing. */
export function checkConfig(name: string, text: string, from: string): Record<string, unknown> {
  let config: unknown
  try {
    config = JSON.parse(text)
  } catch (error) {
    throw new Refusal(`${from} is not valid JSON: ${(error as Error).message}`)
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    const kind = config === null ? 'null' : Array.isArray(config) ? 'an array' : `a ${typeof config}`
    throw new Refusal(`${from} must hold a JSON object (an agent config), not ${kind}`)
  }
  const agent = config as Record<string, unknown>
  if (!isModelString(agent.model)) {
    const got = agent.model === undefined ? 'none' : JSON.stringify(agent.model)
    throw new Refusal(`${from}: "model" must be a string "provider/model" such as "openai/gpt-4o", got ${got}`)
  }
  if (agent.name !== undefined && agent.name !== name) {
    throw new Refusal(`${from} names agent ${JSON.stringify(agent.name)}, but the command puts '${name}': drop "name" or make them agree`)
  }
  return { ...agent, name }
}

/** Checks the arguments (and reads put's config) before any connection is made; answers the work to do. */
async function plan(sub: string, args: string[], context: Context): Promise<Work> {
  if (sub === 'list') {
    const { values } = parse(args, { json: { type: 'boolean' } }, []) as { values: { json?: boolean } }
    return async (store) => {
      const agents = await store.list()
      if (values.json) context.stdout(`${JSON.stringify(agents)}\n`)
      else context.stdout(agents.length > 0 ? table(agents) : 'No agents yet: robutler agents put NAME FILE\n')
      return OK
    }
  }
  if (sub === 'get') {
    const name = agentName(parse(args, {}, ['NAME']).positionals[0]!)
    return async (store) => {
      const row = await store.find(name)
      if (!row) throw new Refusal(`no agent '${name}'`)
      // Shown as servers load it: named after its row, whatever the stored JSON says.
      const stored = row.config
      let config = stored
      if (stored !== null && typeof stored === 'object' && !Array.isArray(stored)) {
        const { name: _stored, ...rest } = stored as Record<string, unknown>
        config = { name, ...rest }
      }
      context.stdout(`${JSON.stringify(config, null, 2)}\n`)
      if (!row.enabled) context.stderr(`robutler agents get: '${name}' is disabled: servers answer 404 for it\n`)
      return OK
    }
  }
  if (sub === 'put') {
    const { positionals } = parse(args, {}, ['NAME', 'FILE'], 1)
    const name = agentName(positionals[0]!)
    const { text, from } = await readSource(positionals[1])
    const config = checkConfig(name, text, from)
    // The rules a server loads agents by (the config's providers, skills and their configs): a record it would
    // refuse is refused now, not at its first request.
    const problems = context.checkAgent?.(config) ?? []
    if (problems.length > 0) {
      const lines = problems.map((entry) => `  ${entry.code}  ${entry.message}${entry.hint === undefined ? '' : `\n    → ${entry.hint}`}`)
      throw new Refusal(`${from} is not an agent the servers of this config can load:\n${lines.join('\n')}`)
    }
    return async (store) => {
      const created = await store.put(name, config)
      context.stdout(`${created ? 'Created' : 'Updated'} agent '${name}' (model ${config.model as string}).\n`)
      return OK
    }
  }
  const name = agentName(parse(args, {}, ['NAME']).positionals[0]!)
  return async (store) => {
    if (!(await store.remove(name))) throw new Refusal(`no agent '${name}'`)
    context.stdout(`Deleted agent '${name}'.\n`)
    return OK
  }
}

const SUBCOMMANDS = new Set(['list', 'get', 'put', 'delete'])

async function run(args: string[], context: Context): Promise<number> {
  const [sub, ...rest] = args
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    ;(sub === undefined ? context.stderr : context.stdout)(HELP)
    return sub === undefined ? USAGE : OK
  }
  if (!SUBCOMMANDS.has(sub)) {
    context.stderr(`robutler agents: unknown subcommand '${sub}'\n\n${HELP}`)
    return USAGE
  }
  let work: Work
  try {
    work = await plan(sub, rest, context)
  } catch (error) {
    if (error instanceof Refusal) {
      context.stderr(`robutler agents ${sub}: ${error.message}\n`)
      return FAILURE
    }
    if (!(error instanceof UsageError)) throw error
    context.stderr(`robutler agents ${sub}: ${error.message}\n\nUsage:\n${AGENTS_USAGE.replace(/^/gm, '  robutler ')}\n`)
    return USAGE
  }
  const settings = settingsFrom(context.config, context.env)
  if (settings.database === null) {
    context.stderr(`robutler agents: ${NO_DATABASE}\n`)
    return FAILURE
  }
  const where = describeDatabase(settings.database)
  const names = tableNames(settings.table)
  const pool = openPool(settings.database, 1)
  // An idle connection that fails after the work is done must not crash the command.
  pool.on('error', () => undefined)
  try {
    const client = await pool.connect()
    try {
      await migrate(client, names)
    } finally {
      client.release()
    }
    return await work(new AgentStore(pool, names))
  } catch (error) {
    if (error instanceof Refusal) context.stderr(`robutler agents ${sub}: ${error.message}\n`)
    else context.stderr(`robutler agents ${sub}: the agent database at ${where} failed: ${describeConnectionError(error, settings.database)}\n`)
    return FAILURE
  } finally {
    // The outcome is already decided and reported; a failed disconnect changes nothing for the operator.
    await pool.end().catch(() => undefined)
  }
}

/** The `robutler agents …` command. */
export const agentsCommand: PluginCommand<AgentsPostgresConfig> = {
  description: 'List, show, create or replace, and delete the agents stored in the agent database',
  usage: AGENTS_USAGE,
  run,
}
