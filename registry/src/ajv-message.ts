// Turns ajv errors into one readable line that names the failing path: `config.units must be one of metric, imperial`.
import type { ErrorObject } from 'ajv'

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

/** One ajv error as a sentence whose subject is the failing path under `root`. */
export function describeAjvError(root: string, error: ErrorObject): string {
  const at = pointerToPath(root, error.instancePath)
  const params = error.params as Record<string, any>
  switch (error.keyword) {
    case 'required':
      return `${appendKey(at, String(params.missingProperty))} is required`
    case 'additionalProperties':
      return `${appendKey(at, String(params.additionalProperty))} is not a known field`
    case 'enum':
      return `${at} must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`
    case 'type':
      return `${at} must be ${params.type}${'data' in error ? `, got ${show(error.data)}` : ''}`
    default:
      return `${at} ${error.message ?? `fails ${error.keyword}`}`
  }
}

/** Every error, deduplicated, joined into one line. */
export function describeAjvErrors(root: string, errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return `${root} is invalid`
  return [...new Set(errors.map((error) => describeAjvError(root, error)))].join('; ')
}
