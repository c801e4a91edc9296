// Every problem the registry reports, in one place: code, what it means, and how its message and hint read.
// Messages name the package and the values involved so a report line is enough to act on.
import { SECTION_OF_KIND } from './kinds.js'
import type { PackageKind, Problem, Section } from './types.js'

/**
 * Where an enabled package was asked for: a config section, an agent's `skills` map (and only that), or an
 * environment variable such as `PROMETHEUS_ENABLED=true`.
 */
export type Asker = { section: Section } | { agent: string; section: 'skills' } | { variable: string }

/** An installed package that is not enabled but would satisfy a requirement. */
export interface CandidateProvider {
  name: string
  kind: PackageKind
}

function describeAsker(asker: Asker): string {
  if ('agent' in asker) return `agent '${asker.agent}' (its \`skills\` map)`
  return 'section' in asker ? `the config's \`${asker.section}\` section` : asker.variable
}

/** The first-party plugins that serve a model prefix: only packages that exist are ever suggested. */
export const KNOWN_PROVIDER_PACKAGES: Readonly<Record<string, string>> = {
  openai: '@robutler/plugin-openai',
  anthropic: '@robutler/plugin-anthropic',
  local: '@robutler/plugin-local',
}

/**
 * What to do about models of `prefix` that nothing serves: install the first-party plugin for it when there is
 * one, else search the marketplace for one (a package named after the prefix may not exist).
 *
 * @example
 * providerHint('openai') // 'npm install @robutler/plugin-openai, then enable it in the config's `plugins` section'
 */
export function providerHint(prefix: string): string {
  const known = KNOWN_PROVIDER_PACKAGES[prefix]
  if (known) return `npm install ${known}, then enable it in the config's \`plugins\` section`
  return `no first-party plugin serves '${prefix}/…' models: find one with \`npx robutler plugins search ${prefix}\`, or use a prefix an enabled plugin serves (plugin-openai's \`endpoints\` name OpenAI-compatible ones)`
}

function requiresMissingHint(capability: string, candidate: CandidateProvider | undefined): string {
  if (candidate) {
    return `${candidate.name} is installed and provides ${capability}: enable it in the config's \`${SECTION_OF_KIND[candidate.kind]}\` section`
  }
  const llm = /^llm:(.+)$/.exec(capability)
  if (llm && KNOWN_PROVIDER_PACKAGES[llm[1]!]) return `${KNOWN_PROVIDER_PACKAGES[llm[1]!]} would provide ${capability}: ${providerHint(llm[1]!)}`
  if (llm) return providerHint(llm[1]!)
  return `install and enable a package whose robutler.provides lists ${capability}`
}

const DEFINITIONS = {
  RBT_ERR_MANIFEST_INVALID: {
    description: "A package's `robutler` manifest in package.json is not valid.",
    message: (pkg: string, detail: string) => `${pkg} has an invalid manifest: ${detail}`,
    hint: (pkg: string) => `fix the \`robutler\` field of ${pkg}'s package.json (see DESIGN.md, "The manifest")`,
  },
  RBT_ERR_PEER_RANGE_MISMATCH: {
    description: "peerDependencies['@robutler/kernel'] differs from the manifest's robutler.kernel range.",
    message: (pkg: string, manifestRange: string, peerRange: string | undefined) =>
      peerRange === undefined
        ? `${pkg} declares robutler.kernel ${manifestRange} but has no peerDependencies['@robutler/kernel']`
        : `${pkg} declares robutler.kernel ${manifestRange} but peerDependencies['@robutler/kernel'] is ${peerRange}`,
    hint: (_pkg: string, manifestRange: string) =>
      `set both robutler.kernel and peerDependencies['@robutler/kernel'] to the same range (${manifestRange})`,
  },
  RBT_ERR_PLUGIN_VERSION_MISMATCH: {
    description: "The running kernel's version does not satisfy a package's robutler.kernel range.",
    message: (pkg: string, range: string, kernelVersion: string) =>
      `${pkg} requires kernel ${range} but the running kernel is ${kernelVersion}`,
    hint: (pkg: string, range: string, kernelVersion: string) =>
      `install a release of ${pkg} whose robutler.kernel range includes ${kernelVersion}, or a kernel that satisfies ${range}`,
  },
  RBT_ERR_PACKAGE_NOT_INSTALLED: {
    description: 'The config, an agent or the environment enables a package that is not installed.',
    message: (pkg: string, asker: Asker, appDir?: string) =>
      `${describeAsker(asker)} needs ${pkg}, which is not installed${appDir === undefined ? '' : ` in ${appDir} (nor in a parent folder's node_modules)`}`,
    hint: (pkg: string) => `npm install ${pkg}`,
  },
  RBT_ERR_PACKAGE_KIND_MISMATCH: {
    description: 'The config lists a skill under `plugins`, or a plugin under `skills`.',
    message: (pkg: string, kind: PackageKind, section: Section) =>
      `${pkg} is a ${kind} but the config lists it under \`${section}\``,
    hint: (pkg: string, kind: PackageKind) => `move ${pkg} to the config's \`${SECTION_OF_KIND[kind]}\` section`,
  },
  RBT_ERR_REQUIRES_MISSING: {
    description: 'An enabled package requires a capability that no enabled package provides.',
    message: (pkg: string, capability: string, _candidate?: CandidateProvider) =>
      `${pkg} requires ${capability}, which no enabled package provides`,
    hint: (_pkg: string, capability: string, candidate?: CandidateProvider) => requiresMissingHint(capability, candidate),
  },
  RBT_ERR_DEPENDENCY_CYCLE: {
    description: 'Enabled packages require each other in a cycle, so none of them can boot first.',
    message: (_pkg: string, cycle: string[]) =>
      `dependency cycle: ${cycle.join(' → ')} (each requires a capability the next one provides)`,
    hint: () => 'remove one of the requirements, or disable one of the packages',
  },
  RBT_ERR_CONFIG_SCHEMA_INVALID: {
    description: "A package's config schema file (robutler.config) is missing, not JSON, or does not compile.",
    message: (pkg: string, file: string, detail: string) => `${pkg}'s config schema ${file} is unusable: ${detail}`,
    hint: (pkg: string) => `this is a bug in ${pkg}: report it to its authors`,
  },
  RBT_ERR_PACKAGE_CONFIG_INVALID: {
    description: "A package's config section does not match the package's config schema.",
    message: (pkg: string, detail: string) => `the config of ${pkg} is invalid: ${detail}`,
    hint: (pkg: string) => `fix ${pkg}'s section of the config`,
  },
  RBT_ERR_PACKAGE_LOAD_FAILED: {
    description: "Importing a package's entry module failed.",
    message: (pkg: string, detail: string) => `${pkg} failed to load: ${detail}`,
    hint: (pkg: string) => `check that ${pkg} is built and its dependencies are installed (npm install)`,
  },
  RBT_ERR_PACKAGE_EXPORT_INVALID: {
    description: "A package's default export is not a plugin or skill of its manifest's kind.",
    message: (pkg: string, kind: PackageKind, got: string) =>
      `${pkg}'s default export is ${got}, not a ${kind} made by ${kind === 'plugin' ? 'definePlugin' : 'defineSkill'}`,
    hint: (_pkg: string, kind: PackageKind) =>
      `export default ${kind === 'plugin' ? 'definePlugin' : 'defineSkill'}({ … }) from @robutler/kernel`,
  },
} as const

/** How one problem code reads: what it means (docs/errors.md), its message, and its hint, from the package and values. */
export interface ProblemDefinition {
  description: string
  message: (pkg: string, ...values: any[]) => string
  hint?: (pkg: string, ...values: any[]) => string
}

type ProblemValues<D extends ProblemDefinition> = D['message'] extends (pkg: string, ...values: infer V) => string ? V : never

/** A package's problem codes: their descriptions, and the function that makes a Problem of one. */
export interface ProblemCatalogue<D extends Record<string, ProblemDefinition>> {
  /** Every code with a one-line description (docs/errors.md is checked against this). */
  codes: { readonly [C in keyof D]: string }
  /** Makes a Problem: the message and hint come from the code's templates, filled with the package and values. */
  problem<C extends keyof D & string>(code: C, pkg: string, ...values: ProblemValues<D[C]>): Problem
}

/**
 * The problem codes of one package, in one place. The registry's are below; the CLI defines its own the same way.
 *
 * @example
 * const { codes, problem } = defineProblems({
 *   RBT_ERR_MARKETPLACE_FOLDER_EXISTS: { description: '…', message: (pkg: string, dir: string) => `cannot scaffold ${pkg}: ${dir} exists` },
 * })
 */
export function defineProblems<D extends Record<string, ProblemDefinition>>(definitions: D): ProblemCatalogue<D> {
  const codes = Object.freeze(Object.fromEntries(Object.entries(definitions).map(([code, definition]) => [code, definition.description])))
  return {
    codes: codes as ProblemCatalogue<D>['codes'],
    problem(code, pkg, ...values) {
      const definition = definitions[code]!
      const made: Problem = { code, package: pkg, message: definition.message(pkg, ...values) }
      const hint = definition.hint?.(pkg, ...values)
      if (hint) made.hint = hint
      return made
    },
  }
}

const REGISTRY_PROBLEMS = defineProblems(DEFINITIONS)

export type ProblemCode = keyof typeof DEFINITIONS

/** Every problem code of the registry with a one-line description (docs/errors.md is checked against this). */
export const PROBLEM_CODES: { readonly [C in ProblemCode]: string } = REGISTRY_PROBLEMS.codes

/**
 * Makes a Problem: the message and hint come from the code's templates, filled with the package and values.
 *
 * @example
 * problem('RBT_ERR_PACKAGE_NOT_INSTALLED', '@acme/skill-weather', { section: 'skills' })
 * // → { code, package: '@acme/skill-weather', message: "the config's `skills` section needs …", hint: 'npm install @acme/skill-weather' }
 */
export const problem: ProblemCatalogue<typeof DEFINITIONS>['problem'] = REGISTRY_PROBLEMS.problem
