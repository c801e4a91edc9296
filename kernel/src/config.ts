// Config files and `${VAR}` interpolation. Never reads process.env itself: the caller passes an environment.
// Every problem of a config file is found in one pass and reported together, each at its file:line:column.
import { readFile } from 'node:fs/promises'
import { dirname, extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describeAjvError, didYouMean, meaningfulErrors, type Problem } from '@robutler/registry'
import type { ErrorObject } from 'ajv'
import { AGENT_NAME, RESERVED_AGENT_NAMES, reservedNameProblem, validateConfigShape } from './config-schema.js'
import { parseConfigText, sourceWithoutText, toProblem, type ConfigSource, type JsonPath } from './config-text.js'
import { ERR_AGENT_INVALID, ERR_CONFIG_ENV_MISSING, ERR_CONFIG_INVALID, ERR_CONFIG_NOT_FOUND } from './errors.js'
import { unsafeKeyPath } from './json-safety.js'
import type { ServerSection } from './options.js'
import { StartupError } from './startup-error.js'
import type { AgentConfig } from './types.js'

export type Environment = Readonly<Record<string, string | undefined>>

/** The shape of robutler.config.json. */
export interface ConfigFile {
  server?: ServerSection
  plugins?: Record<string, Record<string, unknown>>
  skills?: Record<string, Record<string, unknown>>
  agents?: AgentConfig[]
}

export const DEFAULT_CONFIG_FILES = ['robutler.config.json', 'robutler.config.mjs']

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/** An unset `${VAR}` (no default) and where it is. */
interface MissingVariable {
  name: string
  path: Array<string | number>
}

/** Replaces `${VAR}` and `${VAR:-default}` in every string; an unset VAR with no default becomes '' and is listed. */
function interpolateAll<T>(value: T, env: Environment, path: Array<string | number>, missing: MissingVariable[]): T {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value
    return value.replace(VARIABLE, (_match, name: string, fallback: string | undefined) => {
      const found = env[name]
      if (found !== undefined && found !== '') return found
      if (fallback !== undefined) return fallback
      missing.push({ name, path })
      return ''
    }) as T
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolateAll(item, env, [...path, i], missing)) as T
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[key] = interpolateAll(item, env, [...path, key], missing)
    return out as T
  }
  return value
}

function pointer(path: JsonPath): string {
  return path.map((part) => `/${String(part).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')
}

function pathFromPointer(instancePath: string): Array<string | number> {
  if (instancePath === '') return []
  return instancePath
    .slice(1)
    .split('/')
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part))
}

/** `agents[0].name`, or `the config` for the whole file. */
function pathText(path: JsonPath): string {
  let text = ''
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`
    else text += /^[A-Za-z_$][\w$]*$/.test(part) ? `${text === '' ? '' : '.'}${part}` : `[${JSON.stringify(part)}]`
  }
  return text === '' ? 'the config' : text
}

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of a JSON value; an unset `${VAR}` is an error
 * (RBT_ERR_CONFIG_ENV_MISSING, the first one; loadConfigFile reports them all).
 */
export function interpolate<T>(value: T, env: Environment, path = ''): T {
  const missing: MissingVariable[] = []
  const out = interpolateAll(value, env, [], missing)
  const first = missing[0]
  if (first) throw ERR_CONFIG_ENV_MISSING(first.name, `${path}${pointer(first.path)}` || '(root)', first.name, first.name)
  return out
}

function envProblem(variable: MissingVariable, source: ConfigSource): Problem {
  return toProblem(
    ERR_CONFIG_ENV_MISSING.code,
    `${source.locate(variable.path)}: ${pathText(variable.path)} uses \${${variable.name}}, and the environment variable ${variable.name} is not set`,
    `set ${variable.name} in the environment, or give a default: \${${variable.name}:-default}`,
  )
}

function schemaHint(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') {
    const key = String((error.params as { additionalProperty: string }).additionalProperty)
    const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {})
    const near = didYouMean(key, known)
    if (near !== '') return `rename it${near.replace(/^ \(did you mean/, ' to').replace(/\?\)$/, '')}`
    return `remove it; the keys allowed here are ${known.join(', ')}`
  }
  if (error.keyword === 'required') return 'add it'
  return 'fix the value at that line'
}

function schemaProblem(error: ErrorObject, source: ConfigSource): Problem {
  const path = pathFromPointer(error.instancePath)
  const key = error.keyword === 'additionalProperties' ? String((error.params as { additionalProperty: string }).additionalProperty) : null
  const where = key === null ? source.locate(path) : source.locate([...path, key], { key: true })
  const what = describeAjvError('', error).replace(/^\./, '')
  return toProblem(ERR_CONFIG_INVALID.code, `${where}: ${what.startsWith(' ') ? `the config${what}` : what}`, schemaHint(error))
}

/** Agents' names that the schema accepts but the server refuses: the kernel's own routes, and names given twice. */
function agentNameProblems(agents: unknown, source: ConfigSource): Problem[] {
  if (!Array.isArray(agents)) return []
  const problems: Problem[] = []
  const seen = new Map<string, number>()
  agents.forEach((agent, i) => {
    const name = (agent as { name?: unknown } | null)?.name
    if (typeof name !== 'string' || !AGENT_NAME.test(name)) return
    const where = source.locate(['agents', i, 'name'])
    if (RESERVED_AGENT_NAMES.has(name)) {
      problems.push(toProblem(ERR_AGENT_INVALID.code, `${where}: agents[${i}].name: ${reservedNameProblem(name, 'the kernel')}`, `rename the agent (taken: ${[...RESERVED_AGENT_NAMES].join(', ')})`))
    }
    const first = seen.get(name)
    if (first !== undefined) problems.push(toProblem(ERR_AGENT_INVALID.code, `${where}: agents[${i}].name: agent '${name}' is defined twice (first at agents[${first}])`, 'rename or remove one of them'))
    else seen.set(name, i)
  })
  return problems
}

/**
 * Every problem of a config value: unset variables, the config schema (unknown keys, each with the nearest known
 * one), agents' names. A value an unset variable emptied is not reported again by the schema.
 */
export function configProblems(raw: unknown, env: Environment, source: ConfigSource): { config: unknown; problems: Problem[] } {
  const missing: MissingVariable[] = []
  const config = interpolateAll(raw, env, [], missing)
  const problems = missing.map((variable) => envProblem(variable, source))
  const emptied = new Set(missing.map((variable) => pointer(variable.path)))
  if (!validateConfigShape(config)) {
    for (const error of meaningfulErrors(validateConfigShape.errors ?? [])) {
      if (!emptied.has(error.instancePath)) problems.push(schemaProblem(error, source))
    }
  }
  problems.push(...agentNameProblems((config as { agents?: unknown } | null)?.agents, source))
  return { config, problems }
}

/** Checks a config object against the schema (unknown keys are errors); throws a StartupError listing every problem. */
export function validateConfig(config: unknown, source = ''): ConfigFile {
  const checked = configProblems(config, {}, sourceWithoutText(source || 'the config'))
  if (checked.problems.length > 0) throw new StartupError(checked.problems)
  return config as ConfigFile
}

export interface LoadedConfig {
  config: ConfigFile
  /** The config file's folder: relative paths in the config resolve against it. */
  dir: string
  file: string
  /** Where each value of the file is, for problems found later (an agent's model, a plugin's section). */
  source: ConfigSource
}

async function readRaw(path: string): Promise<{ raw: unknown; source: ConfigSource; problems: Problem[] }> {
  if (extname(path) === '.mjs' || extname(path) === '.js') {
    try {
      return { raw: (await import(pathToFileURL(path).href)).default, source: sourceWithoutText(path), problems: [] }
    } catch (error: any) {
      if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes(path)) throw ERR_CONFIG_NOT_FOUND(path)
      throw ERR_CONFIG_INVALID(` in ${path}`, error?.message ?? String(error), error)
    }
  }
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error: any) {
    if (error?.code === 'ENOENT') throw ERR_CONFIG_NOT_FOUND(path)
    throw ERR_CONFIG_INVALID(` in ${path}`, error?.message ?? String(error), error)
  }
  const parsed = parseConfigText(text, path)
  return { raw: parsed.value, source: parsed.source, problems: parsed.problems }
}

/**
 * Reads, interpolates and validates a config file: `.json` (JSON with comments and trailing commas), or `.mjs`
 * with a default export. Every problem of the file is collected and thrown at once as a StartupError (syntax at
 * line:column, each unset `${VAR}`, each schema error with the nearest known key, agents' names).
 *
 * @example
 * const { config, dir, source } = await loadConfigFile('robutler.config.json', process.env)
 */
export async function loadConfigFile(file: string, env: Environment): Promise<LoadedConfig> {
  const path = resolve(file)
  const read = await readRaw(path)
  if (read.problems.length > 0) throw new StartupError(read.problems)
  // Before interpolation, which copies keys by assignment: a `__proto__` key (an .mjs config can make one) would
  // become a prototype there, past the unknown-key check.
  const unsafe = unsafeKeyPath(read.raw)
  if (unsafe !== null) {
    throw new StartupError([{ code: ERR_CONFIG_INVALID.code, message: `${path}: ${unsafe}: a prototype key; the config must be plain JSON data` }])
  }
  const { config, problems } = configProblems(read.raw, env, read.source)
  if (problems.length > 0) throw new StartupError(problems)
  return { config: config as ConfigFile, dir: dirname(path), file: path, source: read.source }
}
