// Config files and `${VAR}` interpolation. Never reads process.env itself: the caller passes an environment.
import { readFile } from 'node:fs/promises'
import { dirname, extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describeAjvErrors, validateConfigShape } from './config-schema.js'
import { ERR_CONFIG_ENV_MISSING, ERR_CONFIG_INVALID, ERR_CONFIG_NOT_FOUND } from './errors.js'
import { unsafeKeyPath } from './json-safety.js'
import type { ServerSection } from './options.js'
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

/** Replaces `${VAR}` and `${VAR:-default}` in every string of a JSON value; an unset `${VAR}` is an error. */
export function interpolate<T>(value: T, env: Environment, path = ''): T {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value
    return value.replace(VARIABLE, (_match, name: string, fallback: string | undefined) => {
      const found = env[name]
      if (found !== undefined && found !== '') return found
      if (fallback !== undefined) return fallback
      throw ERR_CONFIG_ENV_MISSING(name, path || '(root)', name, name)
    }) as T
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, `${path}/${i}`)) as T
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[key] = interpolate(item, env, `${path}/${key}`)
    return out as T
  }
  return value
}

/** Checks a config object against the schema (unknown keys are errors). */
export function validateConfig(config: unknown, source = ''): ConfigFile {
  if (!validateConfigShape(config)) {
    throw ERR_CONFIG_INVALID(source ? ` in ${source}` : '', describeAjvErrors(validateConfigShape.errors))
  }
  return config as ConfigFile
}

/**
 * Reads, interpolates and validates a config file (`.json`, or `.mjs` with a default export).
 * @example
 * const { config, dir } = await loadConfigFile('robutler.config.json', process.env)
 */
export async function loadConfigFile(file: string, env: Environment): Promise<{ config: ConfigFile; dir: string; file: string }> {
  const path = resolve(file)
  let raw: unknown
  if (extname(path) === '.mjs' || extname(path) === '.js') {
    try {
      raw = (await import(pathToFileURL(path).href)).default
    } catch (error: any) {
      if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes(path)) throw ERR_CONFIG_NOT_FOUND(path)
      throw ERR_CONFIG_INVALID(` in ${path}`, error?.message ?? String(error), error)
    }
  } else {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (error: any) {
      if (error?.code === 'ENOENT') throw ERR_CONFIG_NOT_FOUND(path)
      throw error
    }
    try {
      raw = JSON.parse(text)
    } catch (error: any) {
      throw ERR_CONFIG_INVALID(` in ${path}`, `not valid JSON (${error.message})`)
    }
  }
  // Before interpolation, which copies keys by assignment: a `__proto__` key would become a prototype there.
  const unsafe = unsafeKeyPath(raw)
  if (unsafe !== null) throw ERR_CONFIG_INVALID(` in ${path}`, `${unsafe}: a prototype key; the config must be plain JSON data`)
  const config = validateConfig(interpolate(raw, env), path)
  return { config, dir: dirname(path), file: path }
}
