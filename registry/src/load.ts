// Imports the planned packages and checks that each default export is what its manifest says it is.
import { pathToFileURL } from 'node:url'
import { isBranded } from './brand.js'
import { resolveEntry } from './entry.js'
import { problem } from './errors.js'
import { packagePath } from './permissions.js'
import type { LoadedPackage, PackageKind, PlannedPackage, Problem } from './types.js'

export interface LoadResult {
  /** Packages that loaded, in the order they were planned (boot order). */
  packages: LoadedPackage[]
  problems: Problem[]
}

/** What a default export is, for a message: `undefined`, `a function`, `a skill`, `an object without the brand`. */
function describe(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'function') return 'a function'
  if (typeof value !== 'object') return `a ${typeof value}`
  if (isBranded(value, 'plugin')) return 'a plugin'
  if (isBranded(value, 'skill')) return 'a skill'
  return 'an object without the robutler brand'
}

/** Why a branded definition of the right kind still cannot be used, or null when it can. */
function missingPart(definition: Record<string, unknown>, kind: PackageKind): string | null {
  if (kind === 'plugin') return typeof definition.register === 'function' ? null : 'a plugin without a register function'
  if (typeof definition.setup !== 'function') return 'a skill without a setup function'
  if (typeof definition.name !== 'string') return 'a skill without a name'
  return null
}

async function workerPath(planned: PlannedPackage): Promise<{ path: string | null } | { problem: Problem }> {
  if (planned.manifest.worker === undefined) return { path: null }
  const inside = await packagePath(planned.dir, planned.manifest.worker)
  if ('file' in inside) return { path: inside.file }
  const detail = inside.missing
    ? `robutler.worker points to ${planned.manifest.worker}, which does not exist (is the package built?)`
    : `robutler.worker must stay inside the package: ${inside.error}`
  return { problem: problem('RBT_ERR_MANIFEST_INVALID', planned.name, detail) }
}

async function loadOne(planned: PlannedPackage, isolated: boolean): Promise<{ loaded?: LoadedPackage; problems: Problem[] }> {
  const { name, kind } = planned
  const [entry, worker] = await Promise.all([resolveEntry(planned.dir, planned.packageJson), workerPath(planned)])
  const problems: Problem[] = 'problem' in worker ? [worker.problem] : []
  if ('error' in entry) return { problems: [problem('RBT_ERR_PACKAGE_LOAD_FAILED', name, entry.error), ...problems] }
  // Its code runs only in its own processes: the brand is checked there, when it is set up.
  if (isolated && kind === 'skill') {
    if ('problem' in worker) return { problems }
    return { loaded: { ...planned, definition: null, workerPath: worker.path, entryPath: entry.file, isolated: true }, problems }
  }
  let module: Record<string, unknown>
  try {
    module = await import(pathToFileURL(entry.file).href)
  } catch (error) {
    const failed = problem('RBT_ERR_PACKAGE_LOAD_FAILED', name, error instanceof Error ? error.message : String(error))
    failed.cause = error
    return { problems: [failed, ...problems] }
  }
  const definition = module.default
  const unusable = isBranded(definition, kind) ? missingPart(definition as Record<string, unknown>, kind) : describe(definition)
  if (unusable !== null) problems.unshift(problem('RBT_ERR_PACKAGE_EXPORT_INVALID', name, kind, unusable))
  if (problems.length > 0 || 'problem' in worker) return { problems }
  return { loaded: { ...planned, definition, workerPath: worker.path, entryPath: entry.file, isolated: false }, problems }
}

/**
 * Imports every planned package (in parallel) and checks its default export against its manifest's kind.
 * The result keeps the planned boot order; failures are problems, never throws. Skills named in `isolated` are
 * not imported: they run in processes of their own.
 *
 * @example
 * const { packages, problems } = await loadPackages(plan.packages)
 */
export async function loadPackages(planned: readonly PlannedPackage[], options: { isolated?: ReadonlySet<string> } = {}): Promise<LoadResult> {
  const results = await Promise.all(planned.map((entry) => loadOne(entry, options.isolated?.has(entry.name) ?? false)))
  return {
    packages: results.flatMap((result) => (result.loaded ? [result.loaded] : [])),
    problems: results.flatMap((result) => result.problems),
  }
}
