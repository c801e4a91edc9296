// `robutler skills list`: what is installed in the app and what its config enables, in one table.
import { SECTION_OF_KIND, discoverPackages, kernelAccepts, type DiscoveredPackage, type PackageKind } from '@robutler/registry'
import { enabledPackages, readAppConfig, type Enablement } from './app-config.js'
import { formatTable } from './table.js'
import type { MarketplaceContext } from './types.js'

export interface ListedPackage {
  name: string
  /** null when the config enables it but it is not installed. */
  version: string | null
  kernel: string | null
  /** Whether its kernel range accepts the installed kernel; null when not installed or its manifest is invalid. */
  compatible: boolean | null
  /** The manifest problem, when it has one. */
  invalid?: string
  enabled: Enablement | null
}

function isOfKind(found: DiscoveredPackage, kind: PackageKind): boolean {
  return (found.manifest?.kind ?? found.packageJson?.robutler?.kind) === kind
}

/** Installed packages of `kind` and the ones the config enables, by name. */
export async function listPackages(kind: PackageKind, context: MarketplaceContext): Promise<{ packages: ListedPackage[]; configProblem?: string }> {
  const [{ packages: found }, config] = await Promise.all([discoverPackages(context.cwd), readAppConfig(context.configPath)])
  const enabled = enabledPackages(config.data, SECTION_OF_KIND[kind])
  const listed = new Map<string, ListedPackage>()
  for (const entry of found) {
    if (!isOfKind(entry, kind) && !enabled.has(entry.name)) continue
    const kernel = entry.manifest?.kernel ?? (typeof entry.packageJson?.robutler?.kernel === 'string' ? entry.packageJson.robutler.kernel : null)
    const item: ListedPackage = {
      name: entry.name,
      version: entry.version,
      kernel,
      compatible: entry.manifest ? kernelAccepts(entry.manifest.kernel, context.kernelVersion) : null,
      enabled: enabled.get(entry.name) ?? null,
    }
    if (entry.problems.length > 0) item.invalid = entry.problems.map((problem) => problem.message).join('; ')
    listed.set(entry.name, item)
  }
  for (const [name, where] of enabled) {
    if (!listed.has(name)) listed.set(name, { name, version: null, kernel: null, compatible: null, enabled: where })
  }
  const packages = [...listed.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
  return config.data === null ? { packages, configProblem: `${config.path} cannot be read: ${config.uneditable}` } : { packages }
}

function enabledCell(where: Enablement | null): string {
  if (!where) return 'no'
  return where.agents.length > 0 ? `yes (agents: ${where.agents.join(', ')})` : 'yes'
}

function compatibleCell(item: ListedPackage, kernelVersion: string): string {
  if (item.version === null) return 'not installed'
  if (item.invalid !== undefined) return 'no (invalid manifest)'
  return item.compatible ? 'yes' : `no (kernel is ${kernelVersion})`
}

/** `list [--json]`: prints the table (or JSON) on stdout. */
export async function runList(kind: PackageKind, context: MarketplaceContext, json: boolean): Promise<number> {
  const { packages, configProblem } = await listPackages(kind, context)
  if (configProblem) context.stderr(`robutler: warning: ${configProblem}\n`)
  if (json) {
    context.stdout(JSON.stringify(packages, null, 2) + '\n')
    return 0
  }
  const section = SECTION_OF_KIND[kind]
  if (packages.length === 0) {
    context.stdout(`no ${section} installed in ${context.cwd} or enabled in ${context.configPath}\n`)
    return 0
  }
  const rows = packages.map((item) => [item.name, item.version ?? '-', item.kernel ?? '-', compatibleCell(item, context.kernelVersion), enabledCell(item.enabled)])
  context.stdout(formatTable(['name', 'version', 'kernel', 'compatible', 'enabled'], rows))
  for (const item of packages) {
    if (item.invalid !== undefined) context.stderr(`robutler: ${item.invalid}\n`)
    if (item.version === null) context.stderr(`robutler: ${item.name} is enabled but not installed: robutler ${section} add ${item.name}\n`)
  }
  return 0
}
