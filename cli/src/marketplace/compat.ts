// Whether a published version can run here: a valid manifest, of the kind asked for, whose robutler.kernel range
// accepts the installed kernel. The same checks the kernel makes at startup, made before anything is installed.
import semver from 'semver'
import { kernelAccepts, validateManifest, type PackageKind, type Problem } from '@robutler/registry'
import type { PublishedVersion } from './published.js'

export interface Verdict {
  version: string
  /** The version's robutler.kernel range, when its manifest has one. */
  kernel: string | null
  runs: boolean
  /** Why it cannot be used here (`2.0.0 needs kernel ^2.0.0`); null when it runs. */
  reason: string | null
  /** What is wrong with its manifest, field named; empty when the manifest is valid. */
  problems: Problem[]
}

function withoutPrefix(message: string, name: string): string {
  return message.replace(`${name} has an invalid manifest: `, '')
}

/** Judges one published version of `name` for a kernel. */
export function judgeVersion(name: string, entry: PublishedVersion, kind: PackageKind, kernelVersion: string): Verdict {
  const { version, manifest } = entry
  const declared = typeof manifest.robutler?.kernel === 'string' ? (manifest.robutler.kernel as string) : null
  const verdict = (reason: string | null, problems: Problem[] = []): Verdict => ({ version, kernel: declared, runs: reason === null, reason, problems })
  if (manifest.robutler === undefined) return verdict(`${version} is not a Robutler package (its package.json has no robutler field)`)
  const checked = validateManifest(manifest, name)
  if (checked.problems) {
    return verdict(`${version} has an invalid manifest (${checked.problems.map((entry) => withoutPrefix(entry.message, name)).join('; ')})`, checked.problems)
  }
  if (checked.manifest.kind !== kind) return verdict(`${version} is a ${checked.manifest.kind}, not a ${kind}`)
  if (!kernelAccepts(checked.manifest.kernel, kernelVersion)) return verdict(`${version} needs kernel ${checked.manifest.kernel}`)
  return verdict(null)
}

export interface Choice {
  /** The version to install, if any runs here. */
  chosen?: Verdict
  /** Versions newer than the chosen one (or all, when none runs) that do not run here, newest first. */
  passedOver: Verdict[]
}

/**
 * Picks the version to install from `verdicts` (newest first): the `latest` dist-tag when no range was asked and it
 * runs here (what `npm install name` would pick), else the newest version that runs here.
 */
export function chooseVersion(verdicts: readonly Verdict[], latestTag: string | undefined, rangeAsked: boolean): Choice {
  const runnable = verdicts.filter((verdict) => verdict.runs)
  const latest = rangeAsked ? undefined : runnable.find((verdict) => verdict.version === latestTag)
  const chosen = latest ?? runnable[0]
  const passedOver = verdicts.filter((verdict) => !verdict.runs && (!chosen || semver.gt(verdict.version, chosen.version, true)))
  return chosen ? { chosen, passedOver } : { passedOver }
}
