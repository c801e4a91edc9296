// @robutler/plugin-agents-postgres: dynamic agents in a PostgreSQL table. The plugin creates the table and a
// notify trigger; every instance LISTENs, so an update or delete reaches each one's agent cache at once.
// `robutler agents list|get|put|delete` manages the rows.
import { definePlugin, describeConnectionError, type KernelApi } from '@robutler/kernel'
import { agentsCommand, checkConfig } from './commands.js'
import { NO_DATABASE, settingsFrom, type AgentsPostgresConfig, type Settings } from './config.js'
import { describeDatabase, openPool } from './database.js'
import { databaseCheck } from './health.js'
import { AgentListener } from './listener.js'
import { createLoader, type LoaderState } from './loader.js'
import { CHANNEL, migrate, tableNames } from './migrate.js'
import { AgentStore, type AgentListing, type AgentRow } from './store.js'

async function start(kernel: KernelApi, settings: Settings & { database: string }): Promise<void> {
  const { database, table, priority } = settings
  const where = describeDatabase(database)
  const names = tableNames(table)
  const pool = openPool(database)
  // An idle connection that drops (database restart) is replaced on the next query; unheard, it would crash the process.
  pool.on('error', (error) => kernel.log.warn({ err: { message: describeConnectionError(error, database) } }, 'an idle agent database connection failed'))
  kernel.onClose(() => pool.end())

  let source: string
  try {
    const client = await pool.connect()
    try {
      source = await migrate(client, names)
    } finally {
      client.release()
    }
  } catch (error) {
    throw new Error(`cannot prepare the agent table ${table} in ${where}: ${describeConnectionError(error, database)}`)
  }

  const state: LoaderState = { served: new Set() }
  const listener = new AgentListener({
    connectionString: database,
    source,
    log: kernel.log,
    onChange(name) {
      if (name === null) return resyncAll(kernel, state)
      state.served.delete(name)
      kernel.agents.invalidate(name)
    },
    // Notifications sent while the connection was down are lost: every agent handed out may be stale.
    onResync: () => resyncAll(kernel, state),
  })
  kernel.onClose(() => listener.close())
  try {
    await listener.start()
  } catch (error) {
    throw new Error(`cannot LISTEN ${CHANNEL} on ${where}: ${describeConnectionError(error, database)}`)
  }

  const store = new AgentStore(pool, names)
  kernel.agents.addLoader(createLoader(store, state, kernel.log), {
    priority,
    name: 'agents-postgres',
    // The enabled rows, for GET /agents and /models (a disabled one answers 404, so it is not listed either).
    list: async () => (await store.list()).filter((agent) => agent.enabled).map((agent) => agent.name),
  })
  kernel.health.add('agents-postgres', databaseCheck(pool, database, where))
  kernel.log.info({ database: where, table: source, priority }, 'agents from PostgreSQL: table ready, listening for changes')
}

/** The kernel can drop one name at a time: drop each name this loader has answered. */
function resyncAll(kernel: KernelApi, state: LoaderState): void {
  const names = [...state.served]
  state.served.clear()
  for (const name of names) kernel.agents.invalidate(name)
}

export default definePlugin<AgentsPostgresConfig>({
  name: 'agents-postgres',
  commands: { agents: agentsCommand },
  async register(kernel, config) {
    const settings = settingsFrom(config, kernel.env)
    if (settings.database === null) throw new Error(NO_DATABASE)
    await start(kernel, { ...settings, database: settings.database })
  },
})

export { agentsCommand, AgentListener, AgentStore, checkConfig, createLoader, describeDatabase, migrate, settingsFrom, tableNames }
export { CHANNEL } from './migrate.js'
export type { AgentListing, AgentRow, AgentsPostgresConfig, LoaderState, Settings }
export type { TableNames } from './migrate.js'
export type { ListenerOptions } from './listener.js'
