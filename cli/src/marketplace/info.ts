// `robutler skills info <pkg>`: the packument summed up — description, homepage, latest, and every version with
// its kernel range, the ones that run on the installed kernel marked, the one `add` would pick, and (skills) the
// permissions that one asks for.
import { problem } from '../errors.js'
import { SECTION_OF_KIND, describePermissions, formatReport, permissionsOf, type PackageKind } from '@robutler/registry'
import { chooseVersion, judgeVersion } from './compat.js'
import { parsePackageSpec } from './package-spec.js'
import { fetchPublished } from './published.js'
import { formatTable } from './table.js'
import type { MarketplaceContext } from './types.js'

/** `info <pkg>[@range] [--json]`. */
export async function runInfo(kind: PackageKind, specText: string, context: MarketplaceContext, json: boolean): Promise<number> {
  const parsed = parsePackageSpec(specText)
  if ('invalid' in parsed) {
    context.stderr(formatReport([problem('RBT_ERR_MARKETPLACE_NAME_INVALID', specText, parsed.invalid)]) + '\n')
    return 1
  }
  const { spec } = parsed
  const found = await fetchPublished(spec, { cwd: context.cwd, env: context.env })
  if ('problem' in found) {
    context.stderr(formatReport([found.problem]) + '\n')
    return 1
  }
  const { published } = found
  if (published.inRange.length === 0) {
    context.stderr(formatReport([problem('RBT_ERR_MARKETPLACE_PACKAGE_NOT_FOUND', spec.name, spec.range, published.all)]) + '\n')
    return 1
  }
  const verdicts = published.inRange.map((entry) => judgeVersion(spec.name, entry, kind, context.kernelVersion))
  const choice = chooseVersion(verdicts, published.distTags.latest, spec.range !== undefined)
  const permissionsOfVersion = (version: string) => permissionsOf(published.inRange.find((entry) => entry.version === version)?.manifest.robutler?.permissions)
  if (json) {
    const versions = verdicts.map((verdict) => ({
      version: verdict.version,
      kernel: verdict.kernel,
      runs: verdict.runs,
      reason: verdict.reason,
      ...(kind === 'skill' ? { permissions: permissionsOfVersion(verdict.version) } : {}),
    }))
    const summary = { name: spec.name, description: published.description ?? null, homepage: published.homepage ?? null, distTags: published.distTags, versions, addPicks: choice.chosen?.version ?? null }
    context.stdout(JSON.stringify(summary, null, 2) + '\n')
    return 0
  }
  const lines = [`${spec.name}${published.description ? `: ${published.description}` : ''}`]
  if (published.homepage) lines.push(`homepage: ${published.homepage}`)
  lines.push(`dist-tags: ${Object.entries(published.distTags).map(([tag, version]) => `${tag} ${version}`).join(', ') || 'none'}`)
  context.stdout(lines.join('\n') + '\n\n')
  const rows = verdicts.map((verdict) => [
    verdict.version,
    verdict.kernel ?? '-',
    verdict.runs ? 'yes' : `no (${verdict.reason})`,
    verdict === choice.chosen ? `← robutler ${SECTION_OF_KIND[kind]} add picks this` : '',
  ])
  context.stdout(formatTable(['version', 'kernel', `runs on kernel ${context.kernelVersion}`, ''], rows))
  if (kind === 'skill' && choice.chosen) {
    context.stdout(`\npermissions of ${choice.chosen.version}: ${describePermissions(permissionsOfVersion(choice.chosen.version))}\n`)
  }
  return 0
}
