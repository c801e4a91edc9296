// createServer's options (the seed's create_server arguments), and the one table of server settings from which
// the config file's `server` section (its schema), the config → options mapping, the environment overrides and
// the defaults all come. A new setting is an entry in SERVER_SETTINGS and a field of ServerOptions.
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { Ajv, type ValidateFunction } from 'ajv'
import type { DestinationStream } from 'pino'
import type { ConfigFile, Environment } from './config.js'
import type { ConfigSource } from './config-text.js'
import { ERR_CONFIG_INVALID } from './errors.js'
import { paramPolicyProblems, paramPolicySchema, type ParamPolicyConfig } from './param-policy.js'
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
  /** Seconds a client has to send a request's headers (default 20); then 408 and the connection closes. */
  headersTimeout?: number
  /** Seconds a client has to send a whole request, headers and body (default 60); then 408 and the connection closes. */
  bodyTimeout?: number
  /**
   * Connections one client address may hold open (default 128; 0: no limit); more are closed at once. Not applied
   * behind a trusted proxy (`trustProxy`), where every connection comes from the proxy.
   */
  maxConnectionsPerIp?: number
  /** Plugin package name → its config section. */
  plugins?: Record<string, Record<string, unknown>>
  /** Skill package name → its default config. */
  skills?: Record<string, Record<string, unknown>>
  /** The app folder: where packages are discovered, as Node resolves them from it (default: the current directory). */
  appDir?: string
  /** Where relative paths in plugins' configs resolve, the config file's folder (default: appDir). */
  baseDir?: string
  /** The config file the options came from: problems found at startup then name its file:line:column. */
  configSource?: ConfigSource
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
  /**
   * Limits of each worker thread (default: 512 MB old generation; 256 MB outside the heap, `maxExternalMb`: a
   * thread that holds more Buffers than that is ended and replaced, failing the call it was running).
   */
  workerResourceLimits?: {
    maxOldGenerationSizeMb?: number
    maxYoungGenerationSizeMb?: number
    codeRangeSizeMb?: number
    stackSizeMb?: number
    maxExternalMb?: number
  }
  /**
   * The process pool of each isolated skill: `processes` (default 2), and `memoryMb`, the resident memory (heap and
   * Buffers) a process may hold before it is ended with the call it runs (default 256).
   */
  isolation?: { processes?: number; memoryMb?: number }
  /** The largest tool result the model may get, `"1MB"` or bytes (default 1MB); a larger one fails the call. */
  maxToolResultSize?: string | number
  /** Seconds a model call may go without an answer (streaming: without a next chunk) before it is a 504 (default 120). */
  providerTimeout?: number
  /** Retries of a failed model call (429, 5xx, connection errors) before the next fallback model (default 2). */
  providerRetries?: number
  /**
   * Seconds past its load that a cached dynamic agent is still served while its loader fails (default 600; 0:
   * never): an outage of the agents' database does not take agents down that were in use.
   */
  agentMaxStale?: number
  /** Seconds a tool call may take unless the tool sets its own timeoutMs (default 60). */
  toolTimeout?: number
  /** Trust X-Forwarded-* from these proxies (Fastify's trustProxy: true, a hop count, or addresses/CIDRs). */
  trustProxy?: boolean | number | string | string[]
  /**
   * Keep each agent request's context in AsyncLocalStorage for `getContext()`: 'auto' (default) when an enabled
   * plugin or skill declares `asyncContext: true`; true always; false never.
   */
  asyncContext?: boolean | 'auto'
  /**
   * Which request fields clients may pass to the provider, for every agent (an agent's own `params` override it
   * key by key): allowed fields, defaults, a cap on max_tokens, forced values. Default: the ordinary sampling
   * fields pass, nothing that costs more or stores data at the provider.
   */
  params?: ParamPolicyConfig
  /** The environment `${VAR}`, `PROMETHEUS_ENABLED` and provider defaults are read from (default process.env). */
  env?: Environment
}

type SettingKey = keyof ServerOptions

/** An environment variable that overrides a setting of the config file (not an option given to createServer). */
interface EnvOverride {
  variable: string
  /** The setting's value from the variable's text; the setting's schema then checks it. */
  parse: (raw: string) => unknown
  /** What the variable must hold, for the error: `a port number`. */
  expected: string
}

interface SettingSpec<K extends SettingKey> {
  /** JSON Schema of `server.<key>` in the config file. */
  schema: Record<string, unknown>
  /** When neither the options nor the config file set it. */
  default: NonNullable<ServerOptions[K]>
  env?: EnvOverride
  /** The name in Settings, when it differs (a unit in the name: `requestTimeoutMs`). */
  as?: string
  /** The value the server works with (a unit, a normal form); default: as given. */
  resolve?: (value: NonNullable<ServerOptions[K]>, key: K) => unknown
}

/** Seconds as milliseconds; a number of seconds that is not positive is a config error naming the setting. */
function positiveSeconds(value: number, key: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw ERR_CONFIG_INVALID('', `${key} must be a positive number of seconds, got ${String(value)}`)
  }
  return value * 1000
}

const seconds = { type: 'number', exclusiveMinimum: 0 }
const sizeSchema = {
  anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*(B|KB|MB|GB|kb|mb|gb|b)?\\s*$' }],
  description: 'a number of bytes, or a size such as "10MB" (B, KB, MB, GB)',
}

/** The server's params policy, checked beyond its schema (createServer's options are not schema-checked). */
function checkParams(policy: ParamPolicyConfig): ParamPolicyConfig {
  const problems = paramPolicyProblems(policy)
  if (problems.length > 0) throw ERR_CONFIG_INVALID('', `server.${problems.join('; server.')}`)
  return policy
}

/** Every `server.*` setting that is one createServer option of the same name. */
export const SERVER_SETTINGS = {
  title: { schema: { type: 'string' }, default: 'Robutler' },
  host: { schema: { type: 'string' }, default: '127.0.0.1', env: { variable: 'ROBUTLER_HOST', parse: String, expected: 'a host name or address' } },
  port: {
    schema: { type: 'integer', minimum: 0, maximum: 65535 },
    default: 8000,
    env: { variable: 'ROBUTLER_PORT', parse: Number, expected: 'a port number' },
  },
  urlPrefix: {
    schema: { type: 'string', pattern: '^(/[A-Za-z0-9._~-]+)*/?$', description: "a path such as '/api/v1' (letters, digits, '.', '_', '~', '-' between slashes), or '' for none" },
    default: '',
    resolve: normalisePrefix,
  },
  logLevel: {
    schema: { enum: LOG_LEVELS },
    default: 'info',
    env: { variable: 'ROBUTLER_LOG_LEVEL', parse: String, expected: `one of ${LOG_LEVELS.join(', ')}` },
  },
  logPretty: { schema: { type: 'boolean' }, default: false },
  requestTimeout: { schema: seconds, default: 300, as: 'requestTimeoutMs', resolve: positiveSeconds },
  maxRequestSize: {
    schema: sizeSchema,
    default: '10MB',
    as: 'bodyLimit',
    resolve: parseSize,
  },
  headersTimeout: { schema: seconds, default: 20, as: 'headersTimeoutMs', resolve: positiveSeconds },
  bodyTimeout: { schema: seconds, default: 60, as: 'bodyTimeoutMs', resolve: positiveSeconds },
  maxConnectionsPerIp: { schema: { type: 'integer', minimum: 0 }, default: 128 },
  drainTimeout: { schema: { type: 'number', minimum: 0 }, default: 30, as: 'drainTimeoutMs', resolve: (value: number) => value * 1000 },
  pluginTimeout: { schema: { type: 'number', exclusiveMinimum: 0 }, default: 10_000, as: 'pluginTimeoutMs' },
  workerThreads: {
    schema: { anyOf: [{ const: 'auto' }, { type: 'integer', minimum: 0, maximum: 256 }], description: '"auto" or a number of threads from 0 to 256' },
    default: 'auto',
    resolve: (threads: number | 'auto') => (threads === 'auto' ? Math.max(1, availableParallelism() - 1) : threads),
  },
  workerQueue: { schema: { type: 'integer', minimum: 0, maximum: 1_000_000 }, default: 256 },
  workerResourceLimits: {
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxOldGenerationSizeMb: { type: 'integer', minimum: 16 },
        maxYoungGenerationSizeMb: { type: 'integer', minimum: 1 },
        codeRangeSizeMb: { type: 'integer', minimum: 1 },
        stackSizeMb: { type: 'integer', minimum: 1 },
        maxExternalMb: { type: 'integer', minimum: 0 },
      },
    },
    default: {},
    resolve: (limits: NonNullable<ServerOptions['workerResourceLimits']>) => ({ maxOldGenerationSizeMb: 512, maxExternalMb: 256, ...limits }),
  },
  isolation: {
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: { processes: { type: 'integer', minimum: 1, maximum: 64 }, memoryMb: { type: 'integer', minimum: 32 } },
    },
    default: {},
    resolve: (isolation: NonNullable<ServerOptions['isolation']>) => ({ processes: 2, memoryMb: 256, ...isolation }),
  },
  maxToolResultSize: { schema: sizeSchema, default: '1MB', as: 'maxToolResultBytes', resolve: parseSize },
  toolTimeout: { schema: seconds, default: 60, as: 'toolTimeoutMs', resolve: positiveSeconds },
  agentMaxStale: { schema: { type: 'number', minimum: 0 }, default: 600, as: 'agentMaxStaleMs', resolve: (value: number) => value * 1000 },
  providerTimeout: { schema: seconds, default: 120, as: 'providerTimeoutMs', resolve: positiveSeconds },
  providerRetries: { schema: { type: 'integer', minimum: 0, maximum: 10 }, default: 2 },
  asyncContext: { schema: { anyOf: [{ type: 'boolean' }, { const: 'auto' }], description: 'true, false or "auto"' }, default: 'auto' },
  trustProxy: {
    schema: {
      anyOf: [{ type: 'boolean' }, { type: 'integer', minimum: 0 }, { type: 'string' }, { type: 'array', items: { type: 'string' } }],
      description: 'true, a number of hops, or addresses/CIDRs (a string or a list)',
    },
    default: false,
  },
  params: { schema: paramPolicySchema, default: {}, resolve: checkParams },
} as const satisfies { [K in SettingKey]?: SettingSpec<K> }

type Table = typeof SERVER_SETTINGS
type TableKey = keyof Table
type SettingName<K extends TableKey> = Table[K] extends { as: infer A extends string } ? A : K
type SettingValue<K extends TableKey> = Table[K] extends { resolve: (...args: any[]) => infer R } ? R : NonNullable<ServerOptions[K]>

/** createServer's settings, normalised: each SERVER_SETTINGS entry under its name, and what several options decide. */
export type Settings = { -readonly [K in TableKey as SettingName<K>]: SettingValue<K> } & {
  /** null: no CORS. */
  corsOrigins: string[] | null
  appDir: string
  baseDir: string
  monitoring: boolean
}

/** `server.*` keys of the config file that are not one option each: `cors` (two options) and `workers` (the CLI's). */
const CONFIG_ONLY = {
  cors: { type: 'object', additionalProperties: false, properties: { origins: { type: 'array', items: { type: 'string' } } } },
  workers: { type: 'integer', minimum: 1, maximum: 256 },
}

/** The shape of the config file's `server` section. */
export type ServerSection = { [K in TableKey]?: ServerOptions[K] } & { cors?: { origins?: string[] }; workers?: number }

/** JSON Schema of the config file's `server` section. */
export const serverSectionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...Object.fromEntries(Object.entries(SERVER_SETTINGS).map(([key, setting]) => [key, setting.schema])),
    ...CONFIG_ONLY,
  },
}

const entries = Object.entries(SERVER_SETTINGS) as Array<[TableKey, SettingSpec<TableKey>]>

/** `/api/v1/` → `/api/v1`; `/` → ``. */
export function normalisePrefix(prefix: string | undefined): string {
  if (!prefix) return ''
  const trimmed = prefix.trim().replace(/\/+$/, '')
  if (trimmed === '') return ''
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }

/** `"10MB"` → 10485760; a number is taken as bytes. */
export function parseSize(size: string | number, key = 'maxRequestSize'): number {
  if (typeof size === 'number') return Math.floor(size)
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(size)
  const unit = match ? UNITS[(match[2] || 'b').toLowerCase()] : undefined
  if (!match || unit === undefined) throw ERR_CONFIG_INVALID('', `${key} '${size}' is not a size like "10MB"`)
  return Math.floor(Number(match[1]) * unit)
}

export function resolveSettings(options: ServerOptions, env: Environment): Settings {
  const settings: Record<string, unknown> = {
    corsOrigins: options.enableCors || options.corsOrigins ? (options.corsOrigins ?? ['*']) : null,
    appDir: resolve(options.appDir ?? '.'),
    baseDir: resolve(options.baseDir ?? options.appDir ?? '.'),
    monitoring: Boolean(options.enableMonitoring || options.enablePrometheus || env.PROMETHEUS_ENABLED === 'true'),
  }
  for (const [key, setting] of entries) {
    const value = options[key] ?? setting.default
    settings[setting.as ?? key] = setting.resolve ? setting.resolve(value as never, key) : value
  }
  return settings as Settings
}

const envChecker = new Ajv({ strict: true })
const envValidators = new Map<string, ValidateFunction>()

/** The value of a setting's environment variable, checked against the setting's schema; undefined when unset or empty. */
function fromEnvironment(key: TableKey, setting: SettingSpec<TableKey>, env: Environment): unknown {
  const raw = setting.env ? env[setting.env.variable] : undefined
  if (raw === undefined || raw === '') return undefined
  const { variable, parse, expected } = setting.env!
  let validate = envValidators.get(key)
  if (!validate) envValidators.set(key, (validate = envChecker.compile(setting.schema)))
  const value = parse(raw)
  if (!validate(value)) throw ERR_CONFIG_INVALID('', `${variable} must be ${expected}, got '${raw}'`)
  return value
}

/**
 * Maps a config file (already validated) plus `ROBUTLER_*` variables to createServer options. `dir` is the config
 * file's folder (relative paths in plugins' configs resolve against it); packages are found from the app folder,
 * `appDir` (default: the current directory), wherever the config lives.
 */
export function optionsFromConfig(
  config: ConfigFile,
  dir: string,
  env: Environment,
  from: { appDir?: string; source?: ConfigSource } = {},
): ServerOptions {
  const server: ServerSection = config.server ?? {}
  const options: Record<string, unknown> = {}
  for (const [key, setting] of entries) options[key] = fromEnvironment(key, setting, env) ?? server[key]
  return {
    ...(options as ServerOptions),
    corsOrigins: server.cors?.origins,
    enableCors: server.cors !== undefined,
    plugins: config.plugins,
    skills: config.skills,
    agents: config.agents,
    ...(from.appDir === undefined ? {} : { appDir: from.appDir }),
    baseDir: dir,
    ...(from.source === undefined ? {} : { configSource: from.source }),
    env,
  }
}
