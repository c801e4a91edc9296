// Decides what loads: which installed packages the config and environment enable, whether each can run here
// (manifest, kernel range, section, config), whether their requirements are met, and the boot order.
import { loadConfigValidator } from './config-schema.js'
import { problem, type Asker, type CandidateProvider } from './errors.js'
import { orderGraph } from './graph.js'
import { SECTION_OF_KIND } from './kinds.js'
import { kernelAccepts } from './manifest.js'
import type { DiscoveredPackage, Manifest, PackageKind, PlanInput, PlannedPackage, Problem, Section } from './types.js'

export interface PlanResult {
  /** Enabled packages that passed every check, in boot order (each after the packages it requires). */
  packages: PlannedPackage[]
  problems: Problem[]
  /** Every package the config and environment enable that is installed, whether it passed its checks or not. */
  enabled: string[]
}

/** Why a package is enabled. */
interface Enablement {
  found: DiscoveredPackage
  sections: Section[]
}

/** An enabled package with a valid manifest. */
interface Candidate {
  found: DiscoveredPackage
  manifest: Manifest
}

/** Names the config and environment ask for, with who asked, in a stable order. */
function requestedNames(input: PlanInput): Map<string, Asker[]> {
  const asked = new Map<string, Asker[]>()
  const add = (name: string, asker: Asker): void => {
    asked.set(name, [...(asked.get(name) ?? []), asker])
  }
  for (const name of Object.keys(input.selection.plugins)) add(name, { section: 'plugins' })
  const agentSkills = input.selection.agentSkills ?? {}
  for (const name of Object.keys(input.selection.skills)) {
    const agents = agentSkills[name]
    add(name, agents && agents.length > 0 ? { agent: agents[0]!, section: 'skills' } : { section: 'skills' })
  }
  for (const [variable, name] of Object.entries(input.selection.fromEnvironment ?? {})) add(name, { variable })
  return asked
}

function providers(packages: Iterable<Candidate>): Map<string, string[]> {
  const byCapability = new Map<string, string[]>()
  for (const { found, manifest } of packages) {
    for (const capability of manifest.provides) byCapability.set(capability, [...(byCapability.get(capability) ?? []), found.name])
  }
  return byCapability
}

/** Enables named packages, then those providing a capability the config uses that no named package provides. */
function enable(input: PlanInput, discovered: readonly DiscoveredPackage[], problems: Problem[]): Map<string, Enablement> {
  const installed = new Map(discovered.map((found) => [found.name, found]))
  const enabled = new Map<string, Enablement>()
  for (const [name, askers] of requestedNames(input)) {
    const found = installed.get(name)
    if (!found) {
      problems.push(problem('RBT_ERR_PACKAGE_NOT_INSTALLED', name, askers[0]!, input.appDir))
      continue
    }
    const sections = askers.flatMap((asker) => ('section' in asker ? [asker.section] : []))
    enabled.set(name, { found, sections })
  }
  const named = providers(withManifest(enabled))
  for (const capability of input.selection.capabilities ?? []) {
    // A package the config names wins: enabling a second provider of the same capability would only clash.
    if (named.has(capability)) continue
    for (const found of discovered) {
      if (found.manifest?.provides.includes(capability) && !enabled.has(found.name)) enabled.set(found.name, { found, sections: [] })
    }
  }
  return new Map([...enabled].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

function* withManifest(enabled: Map<string, Enablement>): Generator<Candidate> {
  for (const { found } of enabled.values()) if (found.manifest) yield { found, manifest: found.manifest }
}

/** The checks a package passes on its own: manifest, section, kernel range, config. */
async function checkPackage(
  input: PlanInput,
  { found, sections }: Enablement,
): Promise<{ planned?: PlannedPackage; problems: Problem[] }> {
  const { manifest, name } = found
  if (!manifest) return { problems: found.problems }
  const problems: Problem[] = []
  for (const section of sections) {
    if (section !== SECTION_OF_KIND[manifest.kind]) problems.push(problem('RBT_ERR_PACKAGE_KIND_MISMATCH', name, manifest.kind, section))
  }
  if (!kernelAccepts(manifest.kernel, input.kernelVersion)) {
    problems.push(problem('RBT_ERR_PLUGIN_VERSION_MISMATCH', name, manifest.kernel, input.kernelVersion))
  }
  const schema = await loadConfigValidator(name, found.dir, manifest)
  if (schema.problem) return { problems: [...problems, schema.problem] }
  const section = input.selection[SECTION_OF_KIND[manifest.kind]][name] ?? {}
  const checked = schema.validate(section)
  if (!checked.ok) problems.push(problem('RBT_ERR_PACKAGE_CONFIG_INVALID', name, checked.message))
  if (problems.length > 0 || !checked.ok) return { problems }
  return {
    problems,
    planned: {
      name,
      version: found.version,
      kind: manifest.kind,
      dir: found.dir,
      manifest,
      config: checked.value,
      packageJson: found.packageJson,
      validateConfig: schema.validate,
    },
  }
}

/**
 * Decides which discovered packages load, checks them, and orders them for boot. Every problem is collected;
 * nothing throws. A capability the config uses that nobody provides is not a problem here: the kernel reports
 * an unknown model prefix itself.
 *
 * @example
 * const { packages: found } = await discoverPackages(appDir)
 * const { packages, problems } = await planPackages({ appDir, kernelVersion: '1.0.0', selection }, found)
 */
export async function planPackages(input: PlanInput, discovered: readonly DiscoveredPackage[]): Promise<PlanResult> {
  const problems: Problem[] = []
  const enabled = enable(input, discovered, problems)
  const checked = await Promise.all([...enabled.values()].map((enablement) => checkPackage(input, enablement)))
  const ready = new Map<string, PlannedPackage>()
  for (const result of checked) {
    problems.push(...result.problems)
    if (result.planned) ready.set(result.planned.name, result.planned)
  }

  const provided = providers(withManifest(enabled))
  const graph = new Map<string, Set<string>>()
  const unmet = new Set<string>()
  for (const { found, manifest } of withManifest(enabled)) {
    const dependencies = new Set<string>()
    for (const capability of manifest.requires) {
      const by = provided.get(capability)
      if (by) {
        for (const provider of by) if (provider !== found.name) dependencies.add(provider)
        continue
      }
      unmet.add(found.name)
      const idle = discovered.find((other) => other.manifest?.provides.includes(capability) && !enabled.has(other.name))
      const candidate: CandidateProvider | undefined = idle && { name: idle.name, kind: idle.manifest!.kind }
      problems.push(problem('RBT_ERR_REQUIRES_MISSING', found.name, capability, candidate))
    }
    graph.set(found.name, dependencies)
  }

  const { order, cycles } = orderGraph(graph)
  for (const cycle of cycles) problems.push(problem('RBT_ERR_DEPENDENCY_CYCLE', cycle[0]!, cycle))
  const packages = order.filter((name) => !unmet.has(name)).flatMap((name) => ready.get(name) ?? [])
  return { packages, problems, enabled: [...enabled.keys()] }
}
