// The skill's config (config.schema.json checked it), read once per agent: each server's connection settings,
// and how its tools are named, picked and scoped.
import { isAbsolute, resolve } from 'node:path'
import type { Scope } from '@robutler/kernel'

interface ServerCommon {
  prefix?: string
  tools?: string[]
  exclude?: string[]
  scope?: Scope
  timeoutMs?: number
  startupTimeoutMs?: number
}

export interface StdioServerConfig extends ServerCommon {
  command: string
  args?: string[]
  env?: Record<string, string>
  cwd?: string
}

export interface RemoteServerConfig extends ServerCommon {
  url: string
  headers?: Record<string, string>
  transport?: 'auto' | 'streamable-http' | 'sse'
}

export type ServerConfig = StdioServerConfig | RemoteServerConfig

export interface McpConfig {
  servers?: Record<string, ServerConfig>
  tools?: string[]
  exclude?: string[]
  scopes?: Record<string, Scope>
  prefix?: string
}

/** How to reach a server: what a connection is made from (and compared by, when an agent is built again). */
export type Endpoint =
  | { kind: 'stdio'; command: string; args: string[]; env: Record<string, string>; cwd: string }
  | { kind: 'remote'; url: string; headers: Record<string, string>; transport: 'auto' | 'streamable-http' | 'sse' }

/** One server of one agent, as the skill uses it. */
export interface ServerPlan {
  name: string
  endpoint: Endpoint
  /** Put before each tool's own name. */
  prefix: string
  /** Picks the server's tools by their own names. */
  picks: (tool: string) => boolean
  scope: Scope
  timeoutMs: number | undefined
  startupTimeoutMs: number
  /** Values of the config that never reach a log (see secretsOf). */
  secrets: string[]
}

/** The variables a child gets from the server's environment; the rest (API keys) stays with the server. */
const INHERITED_ENV = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER']

const DEFAULT_STARTUP_TIMEOUT_MS = 10_000

/** A matcher of names, `*` matching any run of characters. */
export function nameMatcher(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set<string>()
  const globs: RegExp[] = []
  for (const pattern of patterns) {
    if (!pattern.includes('*')) exact.add(pattern)
    else globs.push(new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`))
  }
  return (name) => exact.has(name) || globs.some((glob) => glob.test(name))
}

/** Allowed by an allow-list (none: everything) and not by a deny-list. */
export function picker(only: readonly string[] | undefined, exclude: readonly string[] | undefined): (name: string) => boolean {
  const allowed = only === undefined ? null : nameMatcher(only)
  const denied = exclude === undefined || exclude.length === 0 ? null : nameMatcher(exclude)
  return (name) => (allowed === null || allowed(name)) && (denied === null || !denied(name))
}

function endpointOf(server: ServerConfig, env: Readonly<Record<string, string | undefined>>, baseDir: string): Endpoint {
  if ('command' in server) {
    const inherited: Record<string, string> = {}
    for (const key of INHERITED_ENV) {
      const value = env[key]
      // A bash function exported into the environment is code, not a value: never hand it on.
      if (value !== undefined && !value.startsWith('()')) inherited[key] = value
    }
    const cwd = server.cwd === undefined ? baseDir : isAbsolute(server.cwd) ? server.cwd : resolve(baseDir, server.cwd)
    return { kind: 'stdio', command: server.command, args: server.args ?? [], env: { ...inherited, ...server.env }, cwd }
  }
  return { kind: 'remote', url: server.url, headers: server.headers ?? {}, transport: server.transport ?? 'auto' }
}

/** Each configured server of an agent, ready to connect to. */
export function plansOf(config: McpConfig, env: Readonly<Record<string, string | undefined>>, baseDir: string): ServerPlan[] {
  const template = config.prefix ?? '{server}__'
  return Object.entries(config.servers ?? {}).map(([name, server]) => ({
    name,
    endpoint: endpointOf(server, env, baseDir),
    prefix: server.prefix ?? template.replaceAll('{server}', name),
    picks: picker(server.tools, server.exclude),
    scope: config.scopes?.[name] ?? server.scope ?? 'all',
    timeoutMs: server.timeoutMs,
    startupTimeoutMs: server.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS,
    secrets: secretsOf(server),
  }))
}

/**
 * The values that must never reach a log: every value of the config's `env` and `headers` (8 characters or more:
 * shorter ones are flags and names, and would blank out ordinary words), and a URL's password and query values.
 */
function secretsOf(server: ServerConfig): string[] {
  const values: string[] = []
  if ('command' in server) values.push(...Object.values(server.env ?? {}))
  else {
    for (const value of Object.values(server.headers ?? {})) {
      // A bearer token is secret without its scheme too.
      values.push(value, value.replace(/^\S+\s+/, ''))
    }
    try {
      const url = new URL(server.url)
      if (url.password) values.push(url.password, decodeURIComponent(url.password))
      for (const value of url.searchParams.values()) values.push(value)
    } catch {
      // The schema let through something URL cannot parse: the connection will say so; nothing to hide here.
    }
  }
  return [...new Set(values.filter((value) => value.length >= 8))]
}
