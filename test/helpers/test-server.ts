// Starts an in-process Robutler server over a temp app whose node_modules link the packages a test needs.
import { mkdir, mkdtemp, realpath, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createServer, type RobutlerServer, type ServerOptions } from '@robutler/kernel'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Install name → folder (relative to the repo root) of the packages tests link into an app. */
export const PACKAGES = {
  local: ['@robutler/plugin-local', 'plugins/local'],
  basics: ['@robutler/skill-basics', 'skills/basics'],
  probe: ['robutler-skill-probe', 'test/fixtures/skills/probe'],
  cpu: ['robutler-skill-cpu', 'test/fixtures/skills/cpu'],
  text: ['@robutler/skill-text', 'skills/text'],
  spy: ['robutler-plugin-spy', 'test/fixtures/plugins/spy'],
  keys: ['robutler-plugin-keys', 'test/fixtures/plugins/keys'],
  chain: ['robutler-plugin-chain', 'test/fixtures/plugins/chain'],
  events: ['robutler-plugin-events', 'test/fixtures/plugins/events'],
  shout: ['robutler-plugin-shout', 'test/fixtures/plugins/shout'],
  openai: ['@robutler/plugin-openai', 'plugins/openai'],
  anthropic: ['@robutler/plugin-anthropic', 'plugins/anthropic'],
  messages: ['@robutler/plugin-messages', 'plugins/messages'],
  authKeys: ['@robutler/plugin-auth-keys', 'plugins/auth-keys'],
  skillAuth: ['@robutler/skill-auth', 'skills/auth'],
  rateLimit: ['@robutler/plugin-rate-limit', 'plugins/rate-limit'],
  prometheus: ['@robutler/plugin-prometheus', 'plugins/prometheus'],
  otel: ['@robutler/plugin-otel', 'plugins/otel'],
  agentsFile: ['@robutler/plugin-agents-file', 'plugins/agents-file'],
  agentsPostgres: ['@robutler/plugin-agents-postgres', 'plugins/agents-postgres'],
  agentsHttp: ['@robutler/plugin-agents-http', 'plugins/agents-http'],
  skillMcp: ['@robutler/skill-mcp', 'skills/mcp'],
  pluginMcp: ['@robutler/plugin-mcp', 'plugins/mcp'],
  responses: ['@robutler/plugin-responses', 'plugins/responses'],
  console: ['@robutler/plugin-console', 'plugins/console'],
  usageStub: ['robutler-plugin-usage-stub', 'test/fixtures/plugins/usage-stub'],
  caller: ['robutler-skill-caller', 'test/fixtures/skills/caller'],
  usage: ['@robutler/plugin-usage', 'plugins/usage'],
} as const

export type PackageKey = keyof typeof PACKAGES

/**
 * The test fixture skills: trusted test code that records hooks, routes and pool behaviour in the test's own process,
 * so they run in process ("isolate": false) unless a test says otherwise — outside @robutler/ they would be isolated.
 */
export const FIXTURE_SKILLS: readonly string[] = [PACKAGES.probe[0], PACKAGES.cpu[0], PACKAGES.caller[0]]

/** What the fixture skills' manifests ask for (the probe declares `access`, as skill-auth does), granted to them. */
const FIXTURE_GRANTS: Readonly<Record<string, Record<string, string[]>>> = { [PACKAGES.probe[0]]: { kernel: ['access'] } }

/**
 * `options` with every fixture skill it uses marked `isolate: false` and granted what it declares, in the top-level
 * `skills` section (a test that sets either keeps its own).
 */
export function trustFixtureSkills(options: ServerOptions): ServerOptions {
  const named = new Set([...Object.keys(options.skills ?? {}), ...(options.agents ?? []).flatMap((agent) => Object.keys(agent?.skills ?? {}))])
  const skills: Record<string, Record<string, unknown>> = { ...(options.skills ?? {}) }
  for (const name of FIXTURE_SKILLS) {
    if (!named.has(name)) continue
    const grant = FIXTURE_GRANTS[name]
    skills[name] = { isolate: false, ...(grant ? { grant } : {}), ...skills[name] }
  }
  return Object.keys(skills).length > 0 ? { ...options, skills } : options
}

/** A temp app folder with the given packages symlinked into its node_modules (as npm workspaces do). */
export async function linkedApp(keys: PackageKey[]): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'robutler-app-')))
  for (const key of keys) {
    const [name, folder] = PACKAGES[key]
    const target = join(dir, 'node_modules', name)
    await mkdir(dirname(target), { recursive: true })
    await symlink(join(ROOT, folder), target, 'dir')
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

export interface TestServer {
  server: RobutlerServer
  /** Base URL including the prefix, e.g. `http://127.0.0.1:40123/api/v1`. */
  url: string
  logs: string[]
  close: () => Promise<void>
}

/** createServer + listen on 127.0.0.1:0, logs captured in memory. */
export async function startServer(keys: PackageKey[], options: ServerOptions): Promise<TestServer> {
  return serveApp(await linkedApp(keys), options)
}

/** createServer over an app folder a helper made + listen on 127.0.0.1:0; closing also removes the folder. */
export async function serveApp(app: { dir: string; cleanup: () => Promise<void> }, options: ServerOptions): Promise<TestServer> {
  const logs: string[] = []
  let server: RobutlerServer
  try {
    server = await createServer({
      appDir: app.dir,
      logLevel: 'debug',
      logDestination: { write: (line: string) => void logs.push(line) },
      env: {},
      ...trustFixtureSkills(options),
    })
  } catch (error) {
    await app.cleanup()
    throw error
  }
  const address = await server.listen({ host: '127.0.0.1', port: 0 })
  return {
    server,
    url: `${address}${options.urlPrefix ?? ''}`,
    logs,
    close: async () => {
      await server.close()
      await app.cleanup()
    },
  }
}

/** Status, headers, text and (when the text is JSON) the parsed body of a response. */
export async function answerOf(response: Response) {
  const text = await response.text()
  let json: any = null
  try {
    json = JSON.parse(text)
  } catch {
    // not JSON (a stream, an HTML error page): tests that care read `text`
  }
  return { status: response.status, headers: response.headers, json, text }
}

/** POSTs JSON and returns status, headers and parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return answerOf(await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }))
}

/** GETs (or `method`s, without a body) and returns status, headers and parsed body. */
export async function getJson(url: string, headers: Record<string, string> = {}, method = 'GET') {
  return answerOf(await fetch(url, { method, headers }))
}

/** Reads an SSE response to the end: the parsed `data:` payloads and whether `[DONE]` closed it. */
export async function readSse(response: Response): Promise<{ events: any[]; done: boolean; raw: string }> {
  const raw = await response.text()
  const events: any[] = []
  let done = false
  for (const block of raw.split('\n\n')) {
    if (!block.startsWith('data: ')) continue
    const data = block.slice(6)
    if (data === '[DONE]') done = true
    else events.push(JSON.parse(data))
  }
  return { events, done, raw }
}

/**
 * What the server logged about one request, as text: the messages of its lines and of the errors they carry.
 * Where a refused agent's detail goes (a client gets only a generic message with the request id).
 */
export function loggedAbout(logs: string[], requestId: string | null): string {
  const lines = logs.flatMap((chunk) => chunk.split('\n')).filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>)
  return lines
    .filter((line) => line.reqId === requestId)
    .map((line) => `${line.msg} ${line.err?.message ?? ''}`)
    .join('\n')
}
