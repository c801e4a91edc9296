// A package's config section validator, built once from the JSON Schema file its manifest names.
import { readFile } from 'node:fs/promises'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { describeAjvErrors } from './ajv-message.js'
import { problem } from './errors.js'
import { packagePath } from './permissions.js'
import type { ConfigValidator, Manifest, Problem } from './types.js'

// ajv-formats is CommonJS whose module.exports is the plugin function; NodeNext types it as the namespace.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

/** A package without a `config` schema accepts any section, as given. */
const acceptAnything: ConfigValidator = (config) =>
  typeof config === 'object' && config !== null && !Array.isArray(config)
    ? { ok: true, value: structuredClone(config) as Record<string, unknown> }
    : { ok: false, message: `config must be an object, got ${JSON.stringify(config) ?? String(config)}` }

function makeAjv(): Ajv {
  // One instance per package: two packages may use the same $id for different schemas.
  // strict: false because package authors' schemas may carry annotations ajv does not know.
  // verbose: errors carry the failing schema, for "did you mean" on an unknown key.
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, logger: false, verbose: true })
  addFormats(ajv)
  return ajv
}

/**
 * Reads and compiles the config schema of a package. The validator validates a clone (so the caller's object
 * is never filled with defaults) and answers the clone with defaults applied.
 */
export async function loadConfigValidator(
  name: string,
  dir: string,
  manifest: Manifest,
): Promise<{ validate: ConfigValidator; problem?: undefined } | { validate?: undefined; problem: Problem }> {
  if (manifest.config === undefined) return { validate: acceptAnything }
  const file = manifest.config
  // Inside the package or not read at all: a path to /etc/passwd must not put the file's first bytes in an error.
  const inside = await packagePath(dir, file)
  if ('error' in inside) {
    if (inside.missing) return { problem: problem('RBT_ERR_CONFIG_SCHEMA_INVALID', name, file, 'the file does not exist') }
    return { problem: problem('RBT_ERR_MANIFEST_INVALID', name, `robutler.config must stay inside the package: ${inside.error}`) }
  }
  let schema: unknown
  try {
    schema = JSON.parse(await readFile(inside.file, 'utf8'))
  } catch (error) {
    return { problem: problem('RBT_ERR_CONFIG_SCHEMA_INVALID', name, file, `it is not JSON (${(error as Error).name})`) }
  }
  let check: ReturnType<Ajv['compile']>
  try {
    if (typeof schema !== 'object' && typeof schema !== 'boolean') throw new Error('a JSON Schema is an object or a boolean')
    check = makeAjv().compile(schema as object)
  } catch (error) {
    return { problem: problem('RBT_ERR_CONFIG_SCHEMA_INVALID', name, file, (error as Error).message) }
  }
  const validate: ConfigValidator = (config) => {
    const value = structuredClone(config === undefined ? {} : config)
    if (check(value)) return { ok: true, value: value as Record<string, unknown> }
    return { ok: false, message: describeAjvErrors('config', check.errors) }
  }
  return { validate }
}
