// Finds installed packages that carry a `robutler` manifest, searching node_modules folders the way Node
// resolves bare specifiers: the app's own first, then each ancestor's; the nearest install of a name wins.
import type { Dirent } from 'node:fs'
import { readdir, readFile, realpath } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { problem } from './errors.js'
import { mapLimit } from './map-limit.js'
import { validateManifest } from './manifest.js'
import type { DiscoveredPackage, Problem } from './types.js'

const CONCURRENCY = 64

export interface DiscoverResult {
  /** Packages with a `robutler` field, sorted by name. */
  packages: DiscoveredPackage[]
  /** Every manifest problem found, enabled or not (each is also on its package's `problems`). */
  problems: Problem[]
}

/** An install folder: `node_modules/<name>`, where `name` may be `@scope/name`. */
interface Install {
  name: string
  path: string
  /** Whether the path goes through a symlink, so its real path must be asked for. */
  linked: boolean
}

/** `appDir/node_modules`, then each ancestor's, nearest first (Node skips `node_modules/node_modules`). */
export function nodeModulesFolders(appDir: string): string[] {
  const folders: string[] = []
  for (let dir = resolve(appDir); ; dir = dirname(dir)) {
    if (basename(dir) !== 'node_modules') folders.push(join(dir, 'node_modules'))
    if (dirname(dir) === dir) return folders
  }
}

async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true })
  } catch (error) {
    // A missing node_modules is the common case up the ancestor chain; anything else unreadable is no install.
    if (isFsMiss(error)) return []
    throw error
  }
}

function isFsMiss(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EACCES' || code === 'ELOOP'
}

function mayBeFolder(entry: Dirent): boolean {
  return !entry.name.startsWith('.') && (entry.isDirectory() || entry.isSymbolicLink())
}

async function listInstalls(nodeModules: string): Promise<Install[]> {
  const entries = (await listDir(nodeModules)).filter(mayBeFolder)
  const groups = await Promise.all(
    entries.map(async (entry): Promise<Install[]> => {
      const path = join(nodeModules, entry.name)
      if (!entry.name.startsWith('@')) return [{ name: entry.name, path, linked: entry.isSymbolicLink() }]
      const scoped = (await listDir(path)).filter(mayBeFolder)
      return scoped.map((child) => ({
        name: `${entry.name}/${child.name}`,
        path: join(path, child.name),
        linked: entry.isSymbolicLink() || child.isSymbolicLink(),
      }))
    }),
  )
  return groups.flat()
}

async function readInstall(install: Install, realNodeModules: string, nodeModules: string): Promise<DiscoveredPackage | null> {
  let dir: string
  let text: string
  try {
    dir = install.linked ? await realpath(install.path) : join(realNodeModules, install.path.slice(nodeModules.length + 1))
    text = await readFile(join(dir, 'package.json'), 'utf8')
  } catch (error) {
    // A dangling symlink or a folder without package.json is not a package Node could load either.
    if (isFsMiss(error)) return null
    throw error
  }
  // Most installs are not Robutler packages: skip them without parsing.
  if (!text.includes('robutler')) return null
  let packageJson: Record<string, any>
  try {
    packageJson = JSON.parse(text)
  } catch (error) {
    const detail = `package.json is not valid JSON (${(error as Error).message})`
    return { name: install.name, version: '', dir, packageJson: {}, manifest: null, problems: [problem('RBT_ERR_MANIFEST_INVALID', install.name, detail)] }
  }
  if (typeof packageJson !== 'object' || packageJson === null || !('robutler' in packageJson)) return null
  const result = validateManifest(packageJson, install.name)
  return {
    name: install.name,
    version: typeof packageJson.version === 'string' ? packageJson.version : '',
    dir,
    packageJson,
    manifest: result.manifest ?? null,
    problems: result.problems ?? [],
  }
}

/**
 * Finds every installed package with a `robutler` field, as Node would resolve it from `appDir`.
 * Symlinked installs (npm workspaces) are followed; packages' own nested node_modules are not searched.
 *
 * @example
 * const { packages } = await discoverPackages(process.cwd())
 * for (const found of packages) console.log(found.name, found.manifest?.kind ?? 'invalid')
 */
export async function discoverPackages(appDir: string): Promise<DiscoverResult> {
  const folders = nodeModulesFolders(appDir)
  const levels = await Promise.all(
    folders.map(async (nodeModules) => {
      const installs = await listInstalls(nodeModules)
      return { nodeModules, installs, real: installs.length > 0 ? await realpath(nodeModules) : nodeModules }
    }),
  )
  const nearest = new Map<string, { install: Install; real: string; nodeModules: string }>()
  for (const level of levels) {
    for (const install of level.installs) {
      if (!nearest.has(install.name)) nearest.set(install.name, { install, real: level.real, nodeModules: level.nodeModules })
    }
  }
  const found = await mapLimit([...nearest.values()], CONCURRENCY, (entry) =>
    readInstall(entry.install, entry.real, entry.nodeModules),
  )
  const packages = found
    .filter((entry): entry is DiscoveredPackage => entry !== null)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return { packages, problems: packages.flatMap((entry) => entry.problems) }
}
