// An app folder with @robutler/plugin-local and @robutler/plugin-agents-postgres linked in and a config file for
// the `robutler agents` CLI, and in-process servers over it (debug logs captured, so loader lookups can be counted).
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { createServer, type RobutlerServer, type ServerOptions } from '@robutler/kernel'
import { ROOT, linkedApp } from './test-server.js'

export const AGENTS_POSTGRES = '@robutler/plugin-agents-postgres'
export const LOCAL = '@robutler/plugin-local'

export interface AgentsApp {
  dir: string
  /** robutler.config.json enabling both plugins, for `robutler agents … --config <it>`. */
  configPath: string
  section: Record<string, unknown>
  cleanup: () => Promise<void>
}

/** A temp app whose config enables plugin-local and plugin-agents-postgres with `section`. */
export async function agentsApp(section: Record<string, unknown>): Promise<AgentsApp> {
  const app = await linkedApp(['local'])
  const target = join(app.dir, 'node_modules', AGENTS_POSTGRES)
  await mkdir(dirname(target), { recursive: true })
  await symlink(join(ROOT, 'plugins/agents-postgres'), target, 'dir')
  const configPath = join(app.dir, 'robutler.config.json')
  await writeFile(configPath, JSON.stringify({ plugins: { [LOCAL]: {}, [AGENTS_POSTGRES]: section } }, null, 2))
  return { dir: app.dir, configPath, section, cleanup: app.cleanup }
}

export interface AgentsServer {
  server: RobutlerServer
  /** `http://127.0.0.1:PORT` (no prefix). */
  url: string
  logs: string[]
  /** Debug lines of the plugin's loader for one agent: one per database lookup. */
  lookups(agent: string): number
  close: () => Promise<void>
}

/** createServer over the app (debug logs kept in memory) + listen on 127.0.0.1:0. */
export async function startAgentsServer(app: Pick<AgentsApp, 'dir' | 'section'>, options: ServerOptions = {}): Promise<AgentsServer> {
  const logs: string[] = []
  const server = await createServer({
    appDir: app.dir,
    logLevel: 'debug',
    logDestination: { write: (line: string) => void logs.push(line) },
    env: {},
    workerThreads: 0,
    plugins: { [LOCAL]: {}, [AGENTS_POSTGRES]: app.section },
    ...options,
  })
  const url = await server.listen({ host: '127.0.0.1', port: 0 })
  let closed = false
  return {
    server,
    url,
    logs,
    lookups: (agent) => logs.filter((line) => line.includes('"agent lookup"') && JSON.parse(line).agent === agent).length,
    close: async () => {
      if (closed) return
      closed = true
      await server.close()
    },
  }
}

/** Log lines (parsed) whose message matches. */
export function logLines(logs: string[], msg: string | RegExp): Array<Record<string, any>> {
  return logs.map((line) => JSON.parse(line) as Record<string, any>).filter((entry) => (typeof msg === 'string' ? entry.msg === msg : msg.test(entry.msg)))
}
