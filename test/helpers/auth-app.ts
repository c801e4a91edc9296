// Temp apps for the auth tests: plugin-local, the probe skill, and the two auth packages linked in as npm
// workspaces would, served in process (logs captured) or used by the real `robutler` bin through a config file.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createServer, type RobutlerServer, type ServerOptions } from '@robutler/kernel'
import { getJson, linkedApp, PACKAGES, postJson, trustFixtureSkills } from './test-server.js'

export const AUTH_KEYS = PACKAGES.authKeys[0]
export const SKILL_AUTH = PACKAGES.skillAuth[0]
export const LOCAL = PACKAGES.local[0]
export const PROBE = PACKAGES.probe[0]

export interface AuthApp {
  dir: string
  /** Writes `robutler.config.json` in the app; answers its path. */
  writeConfig(config: unknown): Promise<string>
  cleanup(): Promise<void>
}

/** A temp app with plugin-local, the probe skill, plugin-auth-keys and skill-auth in its node_modules. */
export async function authApp(): Promise<AuthApp> {
  const app = await linkedApp(['local', 'probe', 'authKeys', 'skillAuth'])
  return {
    dir: app.dir,
    async writeConfig(config) {
      const path = join(app.dir, 'robutler.config.json')
      // The probe is trusted test code: in process, granted what it declares (as startAuthServer does).
      await writeFile(path, JSON.stringify(trustFixtureSkills(config as ServerOptions), null, 2))
      return path
    },
    cleanup: app.cleanup,
  }
}

export interface AuthServer {
  server: RobutlerServer
  /** `http://127.0.0.1:PORT` (no prefix is used). */
  url: string
  /** Every log line the server wrote, as written. */
  logs: string[]
  close(): Promise<void>
}

/** createServer over an auth app + listen on 127.0.0.1:0, logs at debug captured into `logs`. */
export async function startAuthServer(app: AuthApp, options: ServerOptions, logs: string[] = []): Promise<AuthServer> {
  const server = await createServer({
    appDir: app.dir,
    logLevel: 'debug',
    logDestination: { write: (line: string) => void logs.push(line) },
    env: {},
    ...trustFixtureSkills(options),
  })
  const url = await server.listen({ host: '127.0.0.1', port: 0 })
  return { server, url, logs, close: () => server.close() }
}

/** POSTs a one-message chat to an agent. */
export async function chat(url: string, agent: string, content: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
  return postJson(`${url}/${agent}/chat/completions`, { messages: [{ role: 'user', content }], ...extra }, headers)
}

export { getJson }

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` })
export const apiKey = (key: string) => ({ 'x-api-key': key })
