// @robutler/registry: the manifest, discovery, compatibility checks and load order of Robutler packages.
export { resolvePackages } from './resolve.js'
export { formatReport } from './report.js'
export { discoverPackages, nodeModulesFolders } from './discover.js'
export type { DiscoverResult } from './discover.js'
export { planPackages } from './plan.js'
export type { PlanResult } from './plan.js'
export { loadPackages } from './load.js'
export type { LoadResult } from './load.js'
export { resolveEntry } from './entry.js'
export { validateManifest, MANIFEST_SCHEMA, CAPABILITY_PATTERN } from './manifest.js'
export type { ManifestResult } from './manifest.js'
export { loadConfigValidator } from './config-schema.js'
export { PACKAGE_BRAND, isBranded } from './brand.js'
export { problem, PROBLEM_CODES } from './errors.js'
export { runMarketplaceCommand } from './marketplace/command.js'
export type { MarketplaceContext } from './marketplace/types.js'
export type { ProblemCode, Asker, CandidateProvider } from './errors.js'
export type {
  PackageKind,
  Manifest,
  Problem,
  DiscoveredPackage,
  Selection,
  PlanInput,
  PlannedPackage,
  LoadedPackage,
  LoadReport,
  ConfigValidator,
} from './types.js'
