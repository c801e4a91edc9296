// Turns ajv errors into one readable line that names the failing path: `config.units must be one of metric, imperial`.
// With ajv's `verbose` option the failing schema is known too: an unknown key then gets the nearest known one
// ("did you mean 'port'?"), and a pattern with a `description` is said in words instead of as a regex.
import type { ErrorObject } from 'ajv'
import { closestName } from './closest.js'

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

function appendKey(path: string, key: string): string {
  if (/^\d+$/.test(key)) return `${path}[${key}]`
  if (IDENTIFIER.test(key)) return `${path}.${key}`
  return `${path}[${JSON.stringify(key)}]`
}

/** `/a/0/b~1c` under `root` → `root.a[0]["b/c"]`. */
export function pointerToPath(root: string, pointer: string): string {
  if (pointer === '') return root
  return pointer
    .slice(1)
    .split('/')
    .reduce((path, raw) => appendKey(path, raw.replace(/~1/g, '/').replace(/~0/g, '~')), root)
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value)
}

/** The keys the failing object schema knows (verbose errors only). */
function knownKeys(error: ErrorObject): string[] {
  const properties = (error.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties
  return properties && typeof properties === 'object' ? Object.keys(properties) : []
}

/** " (did you mean 'port'?)" when a known key is one or two typos away from `key`, else "". */
export function didYouMean(key: string, known: readonly string[]): string {
  const near = closestName(key, known)
  return near === null ? '' : ` (did you mean '${near}'?)`
}

/** The failing schema's `description` (verbose errors only): what a value must be, in words. */
function described(error: ErrorObject): string | null {
  const description = (error.parentSchema as { description?: unknown } | undefined)?.description
  return typeof description === 'string' && description !== '' ? description : null
}

/** One ajv error as a sentence whose subject is the failing path under `root`. */
export function describeAjvError(root: string, error: ErrorObject): string {
  const at = pointerToPath(root, error.instancePath)
  const params = error.params as Record<string, any>
  switch (error.keyword) {
    case 'required':
      return `${appendKey(at, String(params.missingProperty))} is required`
    case 'additionalProperties': {
      const key = String(params.additionalProperty)
      return `${appendKey(at, key)} is not a known field${didYouMean(key, knownKeys(error))}`
    }
    case 'enum':
      return `${at} must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`
    case 'type':
      return `${at} must be ${params.type}${'data' in error ? `, got ${show(error.data)}` : ''}`
    default: {
      // A pattern or a union said in words when the schema describes it, rather than as a regex.
      const words = ['pattern', 'anyOf', 'oneOf', 'format'].includes(error.keyword) ? described(error) : null
      if (words !== null) return `${at} must be ${words}${'data' in error ? `, got ${show(error.data)}` : ''}`
      return `${at} ${error.message ?? `fails ${error.keyword}`}`
    }
  }
}

/**
 * The errors worth telling: an `anyOf`/`oneOf` that failed says so once, without the failure of each branch
 * before it (`must be integer; must match pattern …; must match a schema in anyOf` is one problem, not three).
 */
export function meaningfulErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const unions = errors.filter((error) => error.keyword === 'anyOf' || error.keyword === 'oneOf')
  return errors.filter((error) => unions.includes(error) || !unions.some((union) => error.schemaPath.startsWith(union.schemaPath.replace(/\/(anyOf|oneOf)$/, `/$1/`))))
}

/** Every error, deduplicated, joined into one line. */
export function describeAjvErrors(root: string, errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return `${root} is invalid`
  return [...new Set(meaningfulErrors(errors).map((error) => describeAjvError(root, error)))].join('; ')
}
