// What the registry has published of a package: each version's package.json (with its `robutler` manifest),
// read through `npm view` so the user's registry, scopes and auth apply.
import semver from 'semver'
import { problem } from '../errors.js'
import type { Problem } from '@robutler/registry'
import { npmErrorCode, npmErrorSummary, parseNpmJson, runNpm, type NpmOptions } from './npm.js'
import type { PackageSpec } from './package-spec.js'

/** The range that matches every stable version (prereleases match only ranges that name them, as in npm). */
const EVERY_STABLE = '>=0.0.0'

export interface PublishedVersion {
  version: string
  /** The version's package.json as published: `robutler`, `peerDependencies`, `description`, … */
  manifest: Record<string, any>
}

export interface Published {
  name: string
  /** Every stable version (and those the asked range matches), newest first. */
  versions: PublishedVersion[]
  /** The versions the asked range matches, newest first; all of `versions` when no range was asked. */
  inRange: PublishedVersion[]
  /** Every version number the packument lists, prereleases included, newest first. */
  all: string[]
  distTags: Record<string, string>
  description?: string
  homepage?: string
}

function asList(parsed: unknown): Record<string, any>[] {
  if (parsed === undefined) return []
  const list = Array.isArray(parsed) ? parsed : [parsed]
  return list.filter((item): item is Record<string, any> => typeof item === 'object' && item !== null && typeof item.version === 'string')
}

function newestFirst(versions: PublishedVersion[]): PublishedVersion[] {
  const unique = new Map(versions.map((entry) => [entry.version, entry]))
  return [...unique.values()].sort((a, b) => semver.rcompare(a.version, b.version, true))
}

function failed(name: string, command: string, run: Awaited<ReturnType<typeof runNpm>>): Problem {
  if (npmErrorCode(run) === 'E404') return problem('RBT_ERR_MARKETPLACE_PACKAGE_NOT_FOUND', name, undefined, [])
  return problem('RBT_ERR_MARKETPLACE_NPM_FAILED', name, command, npmErrorSummary(run))
}

/**
 * Reads the published versions of `spec.name`: every stable one (`npm view 'name@>=0.0.0' --json`) and, when a range or
 * dist-tag is given, those it matches (`npm view name@range --json`, so npm's own range rules apply).
 *
 * @example
 * const found = await fetchPublished({ name: 'robutler-skill-weather', range: '^1.0.0' }, { cwd, env })
 * if ('problem' in found) report(found.problem)
 */
export async function fetchPublished(spec: PackageSpec, options: NpmOptions): Promise<{ published: Published } | { problem: Problem }> {
  const view = (what: string) => runNpm(['view', what, '--json'], options)
  // Not `name@*`: npm view reads `*` as the latest dist-tag and answers that version alone.
  const [everyStable, asked] = await Promise.all([view(`${spec.name}@${EVERY_STABLE}`), spec.range === undefined ? undefined : view(`${spec.name}@${spec.range}`)])
  // No stable version: the package has only prereleases (its latest tag still answers), or it does not exist.
  const stable = everyStable.code !== 0 && npmErrorCode(everyStable) === 'E404' ? await view(spec.name) : everyStable
  if (stable.code !== 0) return { problem: failed(spec.name, 'view', stable) }
  const manifests = asList(parseNpmJson(stable.stdout))
  const toVersion = (manifest: Record<string, any>): PublishedVersion => ({ version: manifest.version, manifest })
  const versions = manifests.map(toVersion)
  let inRange = versions
  if (asked) {
    if (asked.code !== 0 && npmErrorCode(asked) !== 'E404') return { problem: failed(spec.name, 'view', asked) }
    inRange = asked.code === 0 ? asList(parseNpmJson(asked.stdout)).map(toVersion) : []
  }
  const sample = manifests.find((manifest) => manifest.version === manifests[0]?.['dist-tags']?.latest) ?? manifests[0] ?? {}
  const all = Array.isArray(sample.versions) ? (sample.versions as unknown[]).filter((v): v is string => typeof v === 'string') : []
  const published: Published = {
    name: spec.name,
    versions: newestFirst([...versions, ...inRange]),
    inRange: newestFirst(inRange),
    all: [...new Set([...all, ...versions.map((entry) => entry.version)])].filter((v) => semver.valid(v, true)).sort((a, b) => semver.rcompare(a, b, true)),
    distTags: typeof sample['dist-tags'] === 'object' && sample['dist-tags'] !== null ? sample['dist-tags'] : {},
  }
  if (typeof sample.description === 'string') published.description = sample.description
  if (typeof sample.homepage === 'string') published.homepage = sample.homepage
  return { published }
}
