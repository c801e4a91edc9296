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
export { validateManifest, kernelAccepts, MANIFEST_SCHEMA, CAPABILITY_PATTERN } from './manifest.js'
export {
  KERNEL_PERMISSIONS,
  PERMISSIONS_SCHEMA,
  NO_PERMISSIONS,
  permissionsOf,
  ungranted,
  isEmptyPermissions,
  describePermissions,
  isFirstParty,
  pathOutsidePackage,
  packagePath,
} from './permissions.js'
export type { Permissions, KernelPermission } from './permissions.js'
export { SECTION_OF_KIND } from './kinds.js'
export type { ManifestResult } from './manifest.js'
export { loadConfigValidator } from './config-schema.js'
export { PACKAGE_BRAND, isBranded } from './brand.js'
export { problem, PROBLEM_CODES, defineProblems, KNOWN_PROVIDER_PACKAGES, providerHint } from './errors.js'
export type { ProblemCode, ProblemDefinition, ProblemCatalogue, Asker, CandidateProvider } from './errors.js'
export { describeAjvErrors, describeAjvError, didYouMean, meaningfulErrors, pointerToPath } from './ajv-message.js'
export { closestName } from './closest.js'
export { mapLimit } from './map-limit.js'
export type {
  PackageKind,
  Section,
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
