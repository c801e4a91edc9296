// The `robutler` field of package.json: its JSON Schema and the checks a schema cannot express.
import { Ajv } from 'ajv'
import semver from 'semver'
import { describeAjvError, pointerToPath } from './ajv-message.js'
import { problem } from './errors.js'
import { PERMISSIONS_SCHEMA, pathOutsidePackage, permissionsOf } from './permissions.js'
import type { Manifest, Problem } from './types.js'

/** True when a manifest's kernel `range` accepts `kernelVersion`; prerelease kernels (1.1.0-beta.1) count as their release line. */
export function kernelAccepts(range: string, kernelVersion: string): boolean {
  return semver.satisfies(kernelVersion, range, { includePrerelease: true })
}

/** `area:name`; `llm:*` declares model prefixes that come from config (named endpoints). */
export const CAPABILITY_PATTERN = /^[\w.-]+:(?:[\w.-]+|\*)$/

const capability = { type: 'string', pattern: CAPABILITY_PATTERN.source }

/** JSON Schema of the `robutler` field. Unknown fields are refused so a typo (`require`) is not silently ignored. */
export const MANIFEST_SCHEMA = {
  type: 'object',
  required: ['kind', 'kernel'],
  additionalProperties: false,
  properties: {
    kind: { enum: ['plugin', 'skill'] },
    kernel: { type: 'string', minLength: 1 },
    provides: { type: 'array', items: capability, uniqueItems: true },
    requires: { type: 'array', items: capability, uniqueItems: true },
    config: { type: 'string', minLength: 1 },
    worker: { type: 'string', minLength: 1 },
    permissions: PERMISSIONS_SCHEMA,
  },
} as const

// verbose: the pattern message quotes the offending value.
const validateShape = new Ajv({ allErrors: true, verbose: true }).compile(MANIFEST_SCHEMA)

export type ManifestResult = { manifest: Manifest; problems?: undefined } | { manifest?: undefined; problems: Problem[] }

function shapeMessages(): string[] {
  return (validateShape.errors ?? []).map((error) =>
    error.keyword === 'pattern' && /^\/(provides|requires)\//.test(error.instancePath)
      ? `${pointerToPath('robutler', error.instancePath)} must look like area:name (as llm:openai), got ${JSON.stringify(error.data)}`
      : describeAjvError('robutler', error),
  )
}

/**
 * Validates the `robutler` field of a package.json: its shape, a valid semver `kernel` range equal to
 * `peerDependencies['@robutler/kernel']`, and `worker` and `permissions` only on skills, paths inside the package. `provides`/`requires` default to [].
 *
 * @example
 * const result = validateManifest(JSON.parse(await readFile('package.json', 'utf8')))
 * if (result.problems) console.error(formatReport(result.problems))
 */
export function validateManifest(packageJson: Record<string, any>, name: string = packageJson?.name ?? '(unnamed)'): ManifestResult {
  const raw = packageJson?.robutler
  if (!validateShape(raw)) {
    return { problems: [...new Set(shapeMessages())].map((detail) => problem('RBT_ERR_MANIFEST_INVALID', name, detail)) }
  }
  const field = raw as Record<string, any>
  const problems: Problem[] = []
  if (semver.validRange(field.kernel) === null) {
    problems.push(
      problem('RBT_ERR_MANIFEST_INVALID', name, `robutler.kernel must be a semver range (as ^1.0.0), got ${JSON.stringify(field.kernel)}`),
    )
  }
  if (field.worker !== undefined && field.kind !== 'skill') {
    problems.push(problem('RBT_ERR_MANIFEST_INVALID', name, `robutler.worker is only for skills, and ${name} is a ${field.kind}`))
  }
  if (field.permissions !== undefined && field.kind !== 'skill') {
    problems.push(problem('RBT_ERR_MANIFEST_INVALID', name, `robutler.permissions is only for skills (plugins are the operator's infrastructure), and ${name} is a ${field.kind}`))
  }
  for (const key of ['config', 'worker'] as const) {
    const outside = field[key] === undefined ? null : pathOutsidePackage(field[key])
    if (outside !== null) problems.push(problem('RBT_ERR_MANIFEST_INVALID', name, `robutler.${key} must stay inside the package, and ${JSON.stringify(field[key])} does not: ${outside}`))
  }
  const peerRange: unknown = packageJson.peerDependencies?.['@robutler/kernel']
  if (peerRange !== field.kernel) {
    problems.push(
      problem('RBT_ERR_PEER_RANGE_MISMATCH', name, field.kernel, peerRange === undefined ? undefined : String(peerRange)),
    )
  }
  if (problems.length > 0) return { problems }

  const manifest: Manifest = {
    kind: field.kind,
    kernel: field.kernel,
    provides: [...(field.provides ?? [])],
    requires: [...(field.requires ?? [])],
    permissions: permissionsOf(field.permissions),
  }
  if (field.config !== undefined) manifest.config = field.config
  if (field.worker !== undefined) manifest.worker = field.worker
  return { manifest }
}
