// `npm install name@version` in the app, and the way back: package.json and package-lock.json are kept as they
// were before, so a package that installs but fails its checks leaves no trace.
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { problem } from '../errors.js'
import type { Problem } from '@robutler/registry'
import { npmErrorSummary, runNpm } from './npm.js'
import type { MarketplaceContext } from './types.js'

const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const

/** The app's npm files before an install. */
export interface AppSnapshot {
  packageJson: string
  /** null when the app had no lock file. */
  lock: string | null
  /** Whether package.json already named the package (an upgrade): rolling back then reinstalls the old one. */
  hadDependency: boolean
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
}

/** Reads the app's package.json and lock file; null when the app has no package.json. */
export async function snapshotApp(cwd: string, name: string): Promise<AppSnapshot | null> {
  const [packageJson, lock] = await Promise.all([readOptional(join(cwd, 'package.json')), readOptional(join(cwd, 'package-lock.json'))])
  if (packageJson === null) return null
  let parsed: Record<string, any> = {}
  try {
    parsed = JSON.parse(packageJson)
  } catch {
    // npm itself will refuse an unparsable package.json and say so; the snapshot only needs the text.
  }
  return { packageJson, lock, hadDependency: DEPENDENCY_FIELDS.some((field) => parsed?.[field]?.[name] !== undefined) }
}

/** Nothing a package ships runs at install unless the operator asked for it (`--allow-scripts`). */
function scriptsFlag(allowScripts: boolean): string[] {
  return allowScripts ? [] : ['--ignore-scripts']
}

function streamTo(context: MarketplaceContext): (text: string) => void {
  return (text) => context.stderr(text)
}

/**
 * Installs `name@version` with npm in the app, npm's output streamed to stderr; install scripts run only when
 * `allowScripts`. `exact` saves the exact version
 * instead of npm's default `^version` (used when a later version in that range would not run on this kernel).
 */
export async function npmInstall(name: string, version: string, exact: boolean, allowScripts: boolean, context: MarketplaceContext): Promise<Problem | null> {
  const args = ['install', `${name}@${version}`, ...(exact ? ['--save-exact'] : []), ...scriptsFlag(allowScripts)]
  context.stderr(`robutler: npm ${args.join(' ')}\n`)
  const run = await runNpm(args, { cwd: context.cwd, env: context.env, onOutput: streamTo(context) })
  return run.code === 0 ? null : problem('RBT_ERR_MARKETPLACE_INSTALL_FAILED', name, version, npmErrorSummary(run))
}

async function restoreFiles(cwd: string, snapshot: AppSnapshot): Promise<void> {
  await writeFile(join(cwd, 'package.json'), snapshot.packageJson)
  // An app that had no lock file gets none back: the one npm made belongs to the install being undone.
  if (snapshot.lock === null) await rm(join(cwd, 'package-lock.json'), { force: true })
  else await writeFile(join(cwd, 'package-lock.json'), snapshot.lock)
}

/**
 * Undoes an install: `npm uninstall` for a package that was new (then package.json and the lock restored byte for
 * byte), or the files restored and `npm install` run for one that replaced an older version.
 */
export async function rollBack(name: string, snapshot: AppSnapshot, allowScripts: boolean, context: MarketplaceContext): Promise<Problem | null> {
  const options = { cwd: context.cwd, env: context.env, onOutput: streamTo(context) }
  if (snapshot.hadDependency) {
    await restoreFiles(context.cwd, snapshot)
    context.stderr('robutler: rolling back: npm install (restoring the previous version)\n')
    const run = await runNpm(['install', ...scriptsFlag(allowScripts)], options)
    return run.code === 0 ? null : problem('RBT_ERR_MARKETPLACE_ROLLBACK_FAILED', name, `npm install failed: ${npmErrorSummary(run)}`)
  }
  context.stderr(`robutler: rolling back: npm uninstall ${name}\n`)
  const run = await runNpm(['uninstall', name, ...scriptsFlag(allowScripts)], options)
  await restoreFiles(context.cwd, snapshot)
  return run.code === 0 ? null : problem('RBT_ERR_MARKETPLACE_ROLLBACK_FAILED', name, `npm uninstall failed: ${npmErrorSummary(run)}`)
}
