// `robutler skills search <query>`: the registry's search API through `npm search`, narrowed to packages that
// carry the kind's keyword, each checked against the installed kernel from the manifests in its packument.
import { problem } from '../errors.js'
import { formatReport, mapLimit, type PackageKind } from '@robutler/registry'
import { chooseVersion, judgeVersion, type Verdict } from './compat.js'
import { npmErrorSummary, parseNpmJson, runNpm, type NpmOptions } from './npm.js'
import { fetchPublished } from './published.js'
import { formatTable } from './table.js'
import { KEYWORD_OF_KIND, type MarketplaceContext } from './types.js'

const PACKUMENT_CONCURRENCY = 6
const DESCRIPTION_WIDTH = 60

interface Hit {
  name: string
  description: string
}

export interface SearchResult {
  name: string
  description: string
  latest: string | null
  /** The latest version's robutler.kernel range. */
  kernel: string | null
  /** The newest version that runs on the installed kernel, if any. */
  compatible: string | null
  /** Why the latest version does not run here, when it does not. */
  latestReason: string | null
}

function hitsOf(stdout: string, keyword: string): Hit[] {
  const parsed = parseNpmJson(stdout)
  if (!Array.isArray(parsed)) return []
  return parsed
    .filter((hit): hit is Record<string, any> => typeof hit?.name === 'string' && Array.isArray(hit.keywords) && hit.keywords.includes(keyword))
    .map((hit) => ({ name: hit.name as string, description: typeof hit.description === 'string' ? hit.description : '' }))
}

/**
 * Asks the registry with the `keywords:` qualifier (npmjs.org understands it); a registry that does not
 * (verdaccio matches the words against names and descriptions) is asked again with the words alone, and either
 * way only hits that carry the keyword are kept.
 */
async function searchRegistry(words: string[], keyword: string, options: NpmOptions): Promise<{ hits: Hit[] } | { error: string }> {
  const qualified = await runNpm(['search', '--json', `keywords:${keyword}`, ...words], options)
  if (qualified.code !== 0) return { error: npmErrorSummary(qualified) }
  const hits = hitsOf(qualified.stdout, keyword)
  if (hits.length > 0 || words.length === 0) return { hits }
  const plain = await runNpm(['search', '--json', ...words], options)
  if (plain.code !== 0) return { error: npmErrorSummary(plain) }
  return { hits: hitsOf(plain.stdout, keyword) }
}

async function describeHit(hit: Hit, kind: PackageKind, context: MarketplaceContext): Promise<SearchResult> {
  const found = await fetchPublished({ name: hit.name }, { cwd: context.cwd, env: context.env })
  const result: SearchResult = { name: hit.name, description: hit.description, latest: null, kernel: null, compatible: null, latestReason: null }
  if ('problem' in found) return { ...result, latestReason: found.problem.message }
  const { published } = found
  const verdicts: Verdict[] = published.versions.map((entry) => judgeVersion(hit.name, entry, kind, context.kernelVersion))
  const latestVersion = published.distTags.latest ?? published.versions[0]?.version ?? null
  const latest = verdicts.find((verdict) => verdict.version === latestVersion)
  return {
    ...result,
    description: hit.description || published.description || '',
    latest: latestVersion,
    kernel: latest?.kernel ?? null,
    compatible: chooseVersion(verdicts, latestVersion ?? undefined, false).chosen?.version ?? null,
    latestReason: latest?.reason ?? null,
  }
}

function compatibleCell(result: SearchResult): string {
  if (result.compatible !== null && result.compatible === result.latest) return 'yes'
  if (result.compatible !== null) return `${result.compatible} (${result.latestReason ?? 'latest does not run here'})`
  return `no${result.latestReason ? ` (${result.latestReason})` : ''}`
}

function truncate(text: string, width: number): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`
}

/** Finds packages of `kind` for the words, with their compatibility with the installed kernel. */
export async function searchPackages(kind: PackageKind, words: string[], context: MarketplaceContext): Promise<{ results: SearchResult[] } | { error: string }> {
  const searched = await searchRegistry(words, KEYWORD_OF_KIND[kind], { cwd: context.cwd, env: context.env })
  if ('error' in searched) return searched
  const results = await mapLimit(searched.hits, PACKUMENT_CONCURRENCY, (hit) => describeHit(hit, kind, context))
  return { results }
}

/** `search <query…> [--json]`: prints name, latest version, kernel range, compatibility and description. */
export async function runSearch(kind: PackageKind, words: string[], context: MarketplaceContext, json: boolean): Promise<number> {
  const found = await searchPackages(kind, words, context)
  if ('error' in found) {
    context.stderr(formatReport([problem('RBT_ERR_MARKETPLACE_NPM_FAILED', words.join(' ') || KEYWORD_OF_KIND[kind], 'search', found.error)]) + '\n')
    return 1
  }
  if (json) {
    context.stdout(JSON.stringify(found.results, null, 2) + '\n')
    return 0
  }
  if (found.results.length === 0) {
    context.stdout(`no package with the keyword ${KEYWORD_OF_KIND[kind]} matches ${JSON.stringify(words.join(' '))}\n`)
    return 0
  }
  const rows = found.results.map((result) => [result.name, result.latest ?? '-', result.kernel ?? '-', compatibleCell(result), truncate(result.description, DESCRIPTION_WIDTH)])
  context.stdout(formatTable(['name', 'latest', 'kernel', `runs on kernel ${context.kernelVersion}`, 'description'], rows))
  return 0
}
