// `name[@range]` as the verbs take it: `weather`, `@acme/skill-weather@^1.2.0`, `robutler-skill-weather@next`.
import semver from 'semver'

/** npm's rules for new package names: lower case, URL-safe, an optional scope. */
const PACKAGE_NAME = /^(?:@[a-z0-9-*~][a-z0-9-*._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/
const DIST_TAG = /^[A-Za-z][\w.-]*$/

export interface PackageSpec {
  name: string
  /** A semver range or a dist-tag; undefined when none was given. */
  range?: string
}

/** Why `name` is not a valid npm package name, or null when it is. */
export function nameProblem(name: string): string | null {
  if (name.length === 0) return 'the name is empty'
  if (name.length > 214) return 'npm names are at most 214 characters'
  if (!PACKAGE_NAME.test(name)) return 'npm names are lower case letters, digits, and - . _ ~, with an optional @scope/'
  return null
}

/** Splits and checks `name[@range]`; answers why it is invalid instead when it is. */
export function parsePackageSpec(spec: string): { spec: PackageSpec } | { invalid: string } {
  const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0)
  const name = at < 0 ? spec : spec.slice(0, at)
  const range = at < 0 ? undefined : spec.slice(at + 1)
  const problem = nameProblem(name)
  if (problem) return { invalid: problem }
  if (range === undefined) return { spec: { name } }
  if (range === '' || (semver.validRange(range) === null && !DIST_TAG.test(range))) {
    return { invalid: `${JSON.stringify(range)} is neither a semver range nor a dist-tag` }
  }
  return { spec: { name, range } }
}
