// `robutler skills remove <pkg>`: disable it in the config (its section and every agent's `skills` map), then
// `npm uninstall` it. The config goes first: a disabled package that is still installed harms nothing, while an
// enabled one that is gone stops the server from starting.
import { writeFile } from 'node:fs/promises'
import { SECTION_OF_KIND, discoverPackages, formatReport, type PackageKind } from '@robutler/registry'
import { problem } from '../errors.js'
import { disableInConfig, enabledPackages, readAppConfig } from './app-config.js'
import { snapshotApp } from './install.js'
import { npmErrorSummary, runNpm } from './npm.js'
import { parsePackageSpec } from './package-spec.js'
import type { MarketplaceContext } from './types.js'

/** `remove <pkg>`. */
export async function runRemove(kind: PackageKind, specText: string, context: MarketplaceContext): Promise<number> {
  const fail = (problems: Parameters<typeof formatReport>[0]): number => {
    context.stderr(formatReport(problems) + '\n')
    return 1
  }
  const parsed = parsePackageSpec(specText)
  if ('invalid' in parsed) return fail([problem('RBT_ERR_MARKETPLACE_NAME_INVALID', specText, parsed.invalid)])
  const name = parsed.spec.name
  const section = SECTION_OF_KIND[kind]
  const [config, snapshot, discovered] = await Promise.all([readAppConfig(context.configPath), snapshotApp(context.cwd, name), discoverPackages(context.cwd)])
  const installed = discovered.packages.find((entry) => entry.name === name)
  const installedKind = installed?.manifest?.kind
  if (installedKind !== undefined && installedKind !== kind) return fail([problem('RBT_ERR_MARKETPLACE_WRONG_KIND', name, installedKind, kind, 'remove')])
  const named = enabledPackages(config.data, section).has(name)
  if (named && config.uneditable !== undefined) return fail([problem('RBT_ERR_MARKETPLACE_CONFIG_UNEDITABLE', name, config.path, config.uneditable, section)])
  const dependency = snapshot?.hadDependency ?? false
  if (!named && !dependency && !installed) return fail([problem('RBT_ERR_MARKETPLACE_NOT_INSTALLED', name, context.cwd, config.path, section)])

  const done: string[] = []
  if (named && config.text !== null) {
    const edit = disableInConfig(config.text, section, name)
    await writeFile(config.path, edit.text)
    done.push(...edit.changes)
  }
  if (dependency) {
    context.stderr(`robutler: npm uninstall ${name}\n`)
    const run = await runNpm(['uninstall', name], { cwd: context.cwd, env: context.env, onOutput: (text) => context.stderr(text) })
    if (run.code !== 0) return fail([problem('RBT_ERR_MARKETPLACE_NPM_FAILED', name, 'uninstall', npmErrorSummary(run))])
    done.push('uninstalled')
  } else if (installed) {
    context.stderr(`robutler: ${name} is installed but not a dependency in ${context.cwd}/package.json, so it was left installed\n`)
  }
  context.stdout(`removed ${name}: ${done.join(', ') || 'nothing to do'}\n`)
  return 0
}
