// In-process servers for the dynamic agent loader tests: plugin-local plus loader plugins linked into a temp app
// as npm workspaces would, logs captured.
import type { ServerOptions } from '@robutler/kernel'
import { linkedApp, PACKAGES, serveApp, type TestServer } from './test-server.js'

export const AGENTS_FILE = PACKAGES.agentsFile[0]
export const AGENTS_HTTP = PACKAGES.agentsHttp[0]

export interface AgentsServer extends TestServer {
  /** The app folder: the kernel's baseDir, where `./agents` resolves. */
  dir: string
}

/**
 * A temp app with plugin-local and the given loader plugins, served on 127.0.0.1:0.
 * `prepare` runs on the app folder before the server starts (to write agent files first).
 */
export async function startAgentsServer(
  loaders: Array<'agentsFile' | 'agentsHttp' | 'skillMcp'>,
  options: ServerOptions,
  prepare?: (dir: string) => Promise<void>,
): Promise<AgentsServer> {
  const app = await linkedApp(['local', ...loaders])
  try {
    await prepare?.(app.dir)
  } catch (error) {
    await app.cleanup()
    throw error
  }
  return { ...(await serveApp(app, options)), dir: app.dir }
}

/** Polls `probe` every 20 ms until it answers true; fails after `ms`. Answers the milliseconds it took. */
export async function within(ms: number, probe: () => boolean | Promise<boolean>, what = 'condition'): Promise<number> {
  const started = Date.now()
  for (;;) {
    if (await probe()) return Date.now() - started
    if (Date.now() - started > ms) throw new Error(`${what} not met within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
