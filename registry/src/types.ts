// Types shared by discovery, planning and loading.
import type { Permissions } from './permissions.js'

export type PackageKind = 'plugin' | 'skill'

/** The config section that enables packages of a kind. */
export type Section = 'plugins' | 'skills'

/** The `robutler` field of a package.json, after validation. */
export interface Manifest {
  kind: PackageKind
  /** semver range of kernels this package runs on; equals its peerDependencies['@robutler/kernel']. */
  kernel: string
  provides: string[]
  requires: string[]
  /** Path (relative to the package folder) of the JSON Schema of the package's config section. */
  config?: string
  /** Skills only: path of the module whose named exports run in the worker pool. */
  worker?: string
  /** Skills only: what it needs (env variables, hosts, kernel capabilities); empty lists when it declares none. */
  permissions: Permissions
}

/** One problem found while discovering, planning or loading packages. Collected, never thrown one by one. */
export interface Problem {
  code: string
  message: string
  /** The package the problem is about, when there is one. */
  package?: string
  /** What to do about it (`npm install …`). */
  hint?: string
  /** The foreign error behind it (an import that threw), for debug logs; never printed in a report. */
  cause?: unknown
}

/** An installed package that has a `robutler` field. */
export interface DiscoveredPackage {
  name: string
  version: string
  /** Real path of the package folder (symlinks resolved). */
  dir: string
  /** The raw package.json. */
  packageJson: Record<string, any>
  /** The validated manifest, or null when it is invalid (a Problem says why). */
  manifest: Manifest | null
  /**
   * What is wrong with its manifest (empty when `manifest` is set). Reported at load only when the package is
   * enabled: a broken package that nobody enables does not stop startup.
   */
  problems: Problem[]
}

/** What the config (and environment) asks for. */
export interface Selection {
  /** Plugin package name → its config section. */
  plugins: Record<string, Record<string, unknown>>
  /** Skill package name → its default config section (top-level `skills` plus every skill an agent names). */
  skills: Record<string, Record<string, unknown>>
  /**
   * Skills named only in agents' `skills` maps (not in the top-level section), each with the agents naming it:
   * a problem about one (not installed) then names the agent rather than the section.
   */
  agentSkills?: Record<string, string[]>
  /**
   * Capabilities the config uses without naming a package (`llm:openai` for an agent model `openai/gpt-4o`).
   * An installed package that provides one is enabled; a missing one is only a problem when `strict` is set.
   */
  capabilities?: string[]
  /**
   * Extra packages enabled by the environment: what asked → package name
   * (`{ 'PROMETHEUS_ENABLED=true': '@robutler/plugin-prometheus' }`). The key is quoted in problems.
   */
  fromEnvironment?: Record<string, string>
  /**
   * Skills that run isolated, in processes of their own: loaded without importing them here (their code must never
   * run in this process); their entry module is found and checked to exist.
   */
  isolated?: string[]
}

export interface PlanInput {
  /** The app folder: its node_modules (and those of its ancestors, as Node resolves) are searched. */
  appDir: string
  /** The running kernel's version. */
  kernelVersion: string
  selection: Selection
}

/** An enabled package, ready to import. */
export interface PlannedPackage {
  name: string
  version: string
  kind: PackageKind
  dir: string
  manifest: Manifest
  /** The config section as given (defaults applied by its schema when it has them). */
  config: Record<string, unknown>
  /** The raw package.json (its `exports`/`main` say what to import). */
  packageJson: Record<string, any>
  /** Validates a config for this package against its schema (used for per-agent skill configs). */
  validateConfig: ConfigValidator
}

/** Validates a copy of `config` (defaults applied); the message names the failing path. */
export type ConfigValidator = (
  config: unknown,
) => { ok: true; value: Record<string, unknown> } | { ok: false; message: string }

export interface LoadedPackage extends PlannedPackage {
  /** The package's default export: a value made by definePlugin or defineSkill. */
  definition: any
  /** Absolute path of the manifest's worker module, when it has one. */
  workerPath: string | null
  /** Absolute path of its entry module. */
  entryPath: string
  /** True when it was not imported (an isolated skill): `definition` is null. */
  isolated: boolean
}

export interface LoadReport {
  /** Every enabled package that loaded, in boot order (a package after everything it requires). */
  packages: LoadedPackage[]
  problems: Problem[]
  /** Every installed package the config and environment enable, whether it passed its checks or not. */
  enabled: string[]
  /** Every package with a manifest that was found (enabled or not), for `doctor` and `skills list`. */
  discovered: DiscoveredPackage[]
}
