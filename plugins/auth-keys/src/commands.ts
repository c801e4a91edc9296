// `robutler keys create|list|revoke`: manage database keys from the operator's shell. The secret is printed once,
// when it is made; only its hash is stored, and nothing here prints a hash.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { agentNameProblem, describeConnectionError, type CommandContext as KernelCommandContext, type PluginCommand, type Scope } from '@robutler/kernel'
import { settingsFrom, type AuthKeysConfig } from './config.js'
import { describeDatabase, openPool } from './database.js'
import { BUDGET_FORMS, parseBudget } from './budget.js'
import { KeyStore, type KeyListing } from './store.js'

type CommandContext = KernelCommandContext<AuthKeysConfig>

const OK = 0
const FAILURE = 1
const USAGE = 2

const SCOPES: readonly Scope[] = ['all', 'owner', 'admin']

export const KEYS_USAGE = [
  'keys create --user ID [--scope all|owner|admin] [--agents a,b] [--budget 5usd/month] [--json]',
  'keys list [--json]',
  'keys revoke ID',
].join('\n')

const HELP = `Manage the API keys of @robutler/plugin-auth-keys in its database (config 'database' or DATABASE_URL).

Usage:
${KEYS_USAGE.replace(/^/gm, '  robutler ')}

  create   makes a key and prints its secret once (only its SHA-256 hash is stored)
  list     prints every key: id, user, scope, agents, created, last used, revoked (never a secret)
  revoke   revokes a key by id; servers refuse it within their cacheTtlSeconds

Exit codes: 0 done, 1 failed, 2 usage error.
`

class UsageError extends Error {}

function parse(args: string[], options: ParseArgsConfig['options'], positionals: number) {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: positionals > 0, strict: true })
    if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument '${parsed.positionals[positionals]}'`)
    return parsed
  } catch (error) {
    if (error instanceof UsageError) throw error
    throw new UsageError((error as Error).message)
  }
}

function parseCreate(args: string[]): { userId: string; scope: Scope; agents: string[] | null; budget: string | null; json: boolean } {
  const { values } = parse(
    args,
    { user: { type: 'string' }, scope: { type: 'string' }, agents: { type: 'string' }, budget: { type: 'string' }, json: { type: 'boolean' } },
    0,
  ) as { values: { user?: string; scope?: string; agents?: string; budget?: string; json?: boolean } }
  const budget = values.budget?.trim() ?? null
  if (budget !== null && parseBudget(budget) === null) throw new UsageError(`--budget must be ${BUDGET_FORMS}, got '${values.budget}'`)
  const userId = values.user?.trim()
  if (!userId) throw new UsageError('--user ID is required')
  const scope = (values.scope ?? 'all') as Scope
  if (!SCOPES.includes(scope)) throw new UsageError(`--scope must be one of ${SCOPES.join(', ')}, got '${values.scope}'`)
  let agents: string[] | null = null
  if (values.agents !== undefined) {
    agents = [...new Set(values.agents.split(',').map((a) => a.trim()).filter(Boolean))]
    if (agents.length === 0) throw new UsageError('--agents needs at least one agent name (a,b)')
    for (const agent of agents) {
      const problem = agentNameProblem(agent)
      if (problem !== null) throw new UsageError(`'${agent}' is not an agent name: ${problem}`)
    }
  }
  return { userId, scope, agents, budget, json: values.json === true }
}

const when = (date: Date | null) => (date ? date.toISOString() : '-')

function table(keys: KeyListing[]): string {
  const header = ['ID', 'USER', 'SCOPE', 'AGENTS', 'BUDGET', 'CREATED', 'LAST USED', 'REVOKED']
  const rows = keys.map((k) => [k.id, k.userId, k.scope, k.agents?.join(',') ?? '*', k.budget ?? '-', when(k.createdAt), when(k.lastUsedAt), when(k.revokedAt)])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n'
}

async function run(args: string[], context: CommandContext): Promise<number> {
  const [sub, ...rest] = args
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    ;(sub === undefined ? context.stderr : context.stdout)(HELP)
    return sub === undefined ? USAGE : OK
  }
  if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') {
    context.stderr(`robutler keys: unknown subcommand '${sub}'\n\n${HELP}`)
    return USAGE
  }
  let work: (store: KeyStore) => Promise<number>
  try {
    work = plan(sub, rest, context)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    context.stderr(`robutler keys ${sub}: ${error.message}\n\nUsage:\n${KEYS_USAGE.replace(/^/gm, '  robutler ')}\n`)
    return USAGE
  }
  const settings = settingsFrom(context.config, context.env)
  if (settings.database === null) {
    context.stderr(
      "robutler keys: no key database: set 'database' in the @robutler/plugin-auth-keys section of the config, or DATABASE_URL\n",
    )
    return FAILURE
  }
  const where = describeDatabase(settings.database)
  const pool = openPool(settings.database, 1)
  // An idle connection that fails after the work is done must not crash the command.
  pool.on('error', () => undefined)
  try {
    const store = new KeyStore(pool, settings.table)
    await store.migrate()
    return await work(store)
  } catch (error) {
    context.stderr(`robutler keys ${sub}: the key database at ${where} failed: ${describeConnectionError(error, settings.database)}\n`)
    return FAILURE
  } finally {
    // The command's outcome is already decided and reported; a failed disconnect changes nothing for the operator.
    await pool.end().catch(() => undefined)
  }
}

/** Checks the arguments before any connection is made; answers the work to do against the store. */
function plan(sub: 'create' | 'list' | 'revoke', args: string[], context: CommandContext): (store: KeyStore) => Promise<number> {
  if (sub === 'create') {
    const request = parseCreate(args)
    return async (store) => {
      const created = await store.create(request)
      if (request.json) {
        context.stdout(
          `${JSON.stringify({ id: created.id, secret: created.secret, userId: request.userId, scope: request.scope, agents: request.agents, budget: request.budget, createdAt: created.createdAt.toISOString() })}\n`,
        )
      } else {
        const agents = request.agents ? request.agents.join(', ') : 'any'
        const budget = request.budget ? `, budget ${request.budget}` : ''
        context.stdout(
          `Created API key ${created.id} for user ${request.userId} (scope ${request.scope}, agents ${agents}${budget}).\n` +
            'Its secret is shown this once and stored nowhere (only its SHA-256 hash is kept):\n\n' +
            `  ${created.secret}\n\n`,
        )
      }
      return OK
    }
  }
  if (sub === 'list') {
    const { values } = parse(args, { json: { type: 'boolean' } }, 0) as { values: { json?: boolean } }
    return async (store) => {
      const keys = await store.list()
      if (values.json) context.stdout(`${JSON.stringify(keys)}\n`)
      else context.stdout(keys.length > 0 ? table(keys) : 'No keys yet: robutler keys create --user ID\n')
      return OK
    }
  }
  const { positionals } = parse(args, {}, 1)
  const id = positionals[0]
  if (!id) throw new UsageError('the key id is required (robutler keys list shows them)')
  return async (store) => {
    const outcome = await store.revoke(id)
    if (outcome.status === 'unknown') {
      context.stderr(`robutler keys revoke: no key '${id}'\n`)
      return FAILURE
    }
    const note = outcome.status === 'revoked' ? 'Revoked' : 'Already revoked'
    context.stdout(`${note} ${id} at ${outcome.revokedAt.toISOString()}; servers refuse it within their cacheTtlSeconds.\n`)
    return OK
  }
}

/** The `robutler keys …` command. */
export const keysCommand: PluginCommand<AuthKeysConfig> = {
  description: 'Create, list and revoke the API keys stored (hashed) in the key database',
  usage: KEYS_USAGE,
  run,
}
