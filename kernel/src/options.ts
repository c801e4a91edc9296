// createServer's options (the seed's create_server arguments) and their normalised settings.
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import type { DestinationStream } from 'pino'
import { parseSize, type ConfigFile, type Environment } from './config.js'
import { ERR_CONFIG_INVALID } from './errors.js'
import type { AgentConfig } from './types.js'

export const PROMETHEUS_PLUGIN = '@robutler/plugin-prometheus'
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export interface ServerOptions {
  title?: string
  agents?: AgentConfig[]
  /** Called for a name that no static agent or loader plugin knows; null means "no such agent". */
  dynamicAgents?: (name: string) => AgentConfig | null | undefined | Promise<AgentConfig | null | undefined>
  urlPrefix?: string
  /** Enables @robutler/plugin-prometheus (it must be installed). */
  enableMonitoring?: boolean
  enablePrometheus?: boolean
  enableCors?: boolean
  corsOrigins?: string[]
  /** Seconds a request may take, streaming included (default 300). */
  requestTimeout?: number
  /** Largest request body, `"10MB"` or bytes (default 10MB). */
  maxRequestSize?: string | number
  /** Plugin package name → its config section. */
  plugins?: Record<string, Record<string, unknown>>
  /** Skill package name → its default config. */
  skills?: Record<string, Record<string, unknown>>
  /** Where packages are discovered and relative config paths resolve (default: the current directory). */
  appDir?: string
  host?: string
  port?: number
  logLevel?: string
  logPretty?: boolean
  /** Where log lines go (default: stdout, written asynchronously). */
  logDestination?: DestinationStream
  /** Seconds in-flight requests get to finish on close (default 30). */
  drainTimeout?: number
  /** Milliseconds each plugin's register may take (default 10000). */
  pluginTimeout?: number
  /** Worker pool threads (default: cores − 1, at least 1); 0 runs worker tools on the main thread. */
  workerThreads?: number | 'auto'
  /** Worker tasks that may wait for a thread before new ones get 503 (default 256). */
  workerQueue?: number
  /** Limits of each worker thread (default: 512 MB old generation). */
  workerResourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number; codeRangeSizeMb?: number; stackSizeMb?: number }
  /** Seconds a model call may go without an answer (streaming: without a next chunk) before it is a 504 (default 120). */
  providerTimeout?: number
  /** Retries of a failed model call (429, 5xx, connection errors) before the next fallback model (default 2). */
  providerRetries?: number
  /** Seconds a tool call may take unless the tool sets its own timeoutMs (default 60). */
  toolTimeout?: number
  /** Trust X-Forwarded-* from these proxies (Fastify's trustProxy: true, a hop count, or addresses/CIDRs). */
  trustProxy?: boolean | number | string | string[]
  /**
   * Keep each agent request's context in AsyncLocalStorage for `getContext()`: 'auto' (default) when an enabled
   * plugin or skill declares `asyncContext: true`; true always; false never.
   */
  asyncContext?: boolean | 'auto'
  /** The environment `${VAR}`, `PROMETHEUS_ENABLED` and provider defaults are read from (default process.env). */
  env?: Environment
}

export interface Settings {
  title: string
  urlPrefix: string
  host: string
  port: number
  logLevel: string
  logPretty: boolean
  corsOrigins: string[] | null
  requestTimeoutMs: number
  bodyLimit: number
  drainTimeoutMs: number
  pluginTimeoutMs: number
  workerThreads: number
  workerQueue: number
  workerResourceLimits: NonNullable<ServerOptions['workerResourceLimits']>
  toolTimeoutMs: number
  providerTimeoutMs: number
  providerRetries: number
  appDir: string
  monitoring: boolean
  asyncContext: boolean | 'auto'
  trustProxy: boolean | number | string | string[]
}

/** `/api/v1/` → `/api/v1`; `/` → ``. */
export function normalisePrefix(prefix: string | undefined): string {
  if (!prefix) return ''
  const trimmed = prefix.trim().replace(/\/+$/, '')
  if (trimmed === '') return ''
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw ERR_CONFIG_INVALID('', `${name} must be a positive number of seconds, got ${String(value)}`)
  }
  return value
}

export function resolveSettings(options: ServerOptions, env: Environment): Settings {
  const threads = options.workerThreads
  return {
    title: options.title ?? 'Robutler',
    urlPrefix: normalisePrefix(options.urlPrefix),
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 8000,
    logLevel: options.logLevel ?? 'info',
    logPretty: options.logPretty ?? false,
    corsOrigins: options.enableCors || options.corsOrigins ? (options.corsOrigins ?? ['*']) : null,
    requestTimeoutMs: positive('requestTimeout', options.requestTimeout, 300) * 1000,
    bodyLimit: parseSize(options.maxRequestSize ?? '10MB'),
    drainTimeoutMs: (options.drainTimeout ?? 30) * 1000,
    pluginTimeoutMs: options.pluginTimeout ?? 10_000,
    workerThreads: threads === undefined || threads === 'auto' ? Math.max(1, availableParallelism() - 1) : threads,
    workerQueue: options.workerQueue ?? 256,
    workerResourceLimits: { maxOldGenerationSizeMb: 512, ...options.workerResourceLimits },
    toolTimeoutMs: positive('toolTimeout', options.toolTimeout, 60) * 1000,
    providerTimeoutMs: positive('providerTimeout', options.providerTimeout, 120) * 1000,
    providerRetries: options.providerRetries ?? 2,
    appDir: resolve(options.appDir ?? '.'),
    monitoring: Boolean(options.enableMonitoring || options.enablePrometheus || env.PROMETHEUS_ENABLED === 'true'),
    asyncContext: options.asyncContext ?? 'auto',
    trustProxy: options.trustProxy ?? false,
  }
}

/** Maps a config file (already validated) plus `ROBUTLER_*` variables to createServer options. */
export function optionsFromConfig(config: ConfigFile, dir: string, env: Environment): ServerOptions {
  const server = config.server ?? {}
  const port = env.ROBUTLER_PORT !== undefined && env.ROBUTLER_PORT !== '' ? Number(env.ROBUTLER_PORT) : server.port
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw ERR_CONFIG_INVALID('', `ROBUTLER_PORT must be a port number, got '${env.ROBUTLER_PORT}'`)
  }
  const level = env.ROBUTLER_LOG_LEVEL || undefined
  if (level !== undefined && !LOG_LEVELS.includes(level)) {
    throw ERR_CONFIG_INVALID('', `ROBUTLER_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got '${level}'`)
  }
  return {
    title: server.title,
    urlPrefix: server.urlPrefix,
    host: env.ROBUTLER_HOST || server.host,
    port,
    logLevel: level ?? server.logLevel,
    logPretty: server.logPretty,
    corsOrigins: server.cors?.origins,
    enableCors: server.cors !== undefined,
    requestTimeout: server.requestTimeout,
    maxRequestSize: server.maxRequestSize,
    drainTimeout: server.drainTimeout,
    pluginTimeout: server.pluginTimeout,
    workerThreads: server.workerThreads,
    workerQueue: server.workerQueue,
    workerResourceLimits: server.workerResourceLimits,
    toolTimeout: server.toolTimeout,
    providerTimeout: server.providerTimeout,
    providerRetries: server.providerRetries,
    asyncContext: server.asyncContext,
    trustProxy: server.trustProxy,
    plugins: config.plugins,
    skills: config.skills,
    agents: config.agents,
    appDir: dir,
    env,
  }
}
