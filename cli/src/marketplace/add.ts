// `robutler skills add <pkg>[@range] [--agent NAME]`: pick the newest version that runs on the installed kernel,
// install it with npm without running its scripts, check it as the kernel will load it in a sandboxed child process
// (rolling the install back when it fails), then enable it in the config with the permissions the operator granted. Every refusal that can be known before installing is made before installing.
import { access, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import semver from 'semver'
import {
  SECTION_OF_KIND,
  describePermissions,
  discoverPackages,
  formatReport,
  isEmptyPermissions,
  nodeModulesFolders,
  permissionsOf,
  problem as registryProblem,
  ungranted,
  type PackageKind,
  type Permissions,
  type Problem,
} from '@robutler/registry'
import { problem } from '../errors.js'
import { agentNames, enableInConfig, readAppConfig, recordGrant, type AppConfig } from './app-config.js'
import { chooseVersion, judgeVersion, type Verdict } from './compat.js'
import { npmInstall, rollBack, snapshotApp } from './install.js'
import { parsePackageSpec, type PackageSpec } from './package-spec.js'
import { inspectInSandbox } from './sandbox.js'
import { fetchPublished, type Published } from './published.js'
import type { MarketplaceContext } from './types.js'

/** How long the inspection of an installed package may take (it imports the package and runs its setup). */
const INSPECTION_TIMEOUT_MS = 60_000

function refuse(context: MarketplaceContext, problems: readonly Problem[]): number {
  context.stderr(formatReport(problems) + '\n')
  return 1
}

/** The manifest problems of the versions that were refused for them, each said once. */
function manifestProblems(verdicts: readonly Verdict[]): Problem[] {
  const seen = new Set<string>()
  return verdicts.flatMap((verdict) => verdict.problems).filter((entry) => !seen.has(entry.message) && seen.add(entry.message))
}

/** Why no version could be chosen: the refusal, with a version outside the range that would run, if one does. */
function noCompatibleVersion(kind: PackageKind, spec: PackageSpec, published: Published, verdicts: readonly Verdict[], context: MarketplaceContext): Problem[] {
  const outside = published.versions
    .filter((entry) => !verdicts.some((verdict) => verdict.version === entry.version))
    .map((entry) => judgeVersion(spec.name, entry, kind, context.kernelVersion))
  const fits = chooseVersion(outside, undefined, true).chosen?.version
  const reasons = verdicts.map((verdict) => verdict.reason!)
  return [
    ...manifestProblems(verdicts),
    problem('RBT_ERR_MARKETPLACE_NO_COMPATIBLE_VERSION', spec.name, spec.range, reasons, context.kernelVersion, fits, SECTION_OF_KIND[kind]),
  ]
}

/** The other kind, when every version in range is a valid package of that kind (`skills add` of a plugin). */
function otherKind(versions: readonly Published['inRange'][number][], kind: PackageKind): PackageKind | null {
  const kinds = new Set(versions.map((entry) => entry.manifest.robutler?.kind))
  const [only] = kinds
  return kinds.size === 1 && (only === 'plugin' || only === 'skill') && only !== kind ? only : null
}

/** Refusals known before installing: no package.json, a config that cannot be edited, an unknown agent. */
function appProblems(name: string, kind: PackageKind, config: AppConfig, agent: string | undefined, context: MarketplaceContext, hasPackageJson: boolean): Problem[] {
  const section = SECTION_OF_KIND[kind]
  if (!hasPackageJson) return [problem('RBT_ERR_MARKETPLACE_NO_PACKAGE_JSON', name, context.cwd, true)]
  if (config.uneditable !== undefined) return [problem('RBT_ERR_MARKETPLACE_CONFIG_UNEDITABLE', name, config.path, config.uneditable, section)]
  if (agent !== undefined && !agentNames(config.data).includes(agent)) {
    return [problem('RBT_ERR_MARKETPLACE_AGENT_NOT_FOUND', name, agent, config.path, agentNames(config.data))]
  }
  return []
}

/** Pins the exact version when a later one that `^version` would let npm update to does not run on this kernel. */
function needsExactSave(chosen: Verdict, verdicts: readonly Verdict[]): boolean {
  return verdicts.some((verdict) => !verdict.runs && semver.gt(verdict.version, chosen.version, true) && semver.satisfies(verdict.version, `^${chosen.version}`, true))
}

function choiceLine(name: string, chosen: Verdict, passedOver: readonly Verdict[], kernelVersion: string): string {
  if (passedOver.length === 0) return `robutler: choosing ${name}@${chosen.version} (kernel ${chosen.kernel}, the installed kernel is ${kernelVersion})\n`
  const why = passedOver.map((verdict) => verdict.reason).join('; ')
  return `robutler: choosing ${name}@${chosen.version}, the newest version that runs on the installed kernel ${kernelVersion}: ${why}\n`
}

/** Where Node resolves `name` from the app: npm may have put it in a workspace root's node_modules. */
async function installedDir(cwd: string, name: string): Promise<string> {
  for (const folder of nodeModulesFolders(cwd)) {
    try {
      await access(join(folder, name, 'package.json'))
      return join(folder, name)
    } catch {
      // Not in this node_modules: try the next one up, as Node would.
    }
  }
  return join(cwd, 'node_modules', name)
}

/** Capabilities the installed package requires that nothing installed provides: startup would refuse them. */
async function unmetRequirements(cwd: string, name: string): Promise<Problem[]> {
  const { packages } = await discoverPackages(cwd)
  const requires = packages.find((entry) => entry.name === name)?.manifest?.requires ?? []
  const provided = new Set(packages.flatMap((entry) => entry.manifest?.provides ?? []))
  return requires.filter((capability) => !provided.has(capability)).map((capability) => registryProblem('RBT_ERR_REQUIRES_MISSING', name, capability))
}

/**
 * Tools of the new skill that another skill of the agent defines too: the kernel refuses to build such an agent
 * (RBT_ERR_SKILL_SETUP_FAILED at startup), so `add` says so now. Each other skill is set up as start would, with
 * its default config and the agent's overrides.
 */
async function toolClashes(name: string, tools: readonly string[], agent: string, data: Record<string, any> | null, context: MarketplaceContext): Promise<Problem[]> {
  if (tools.length === 0) return []
  const entry = (Array.isArray(data?.agents) ? data!.agents : []).find((candidate: any) => candidate?.name === agent)
  const clashes: Problem[] = []
  for (const [other, overrides] of Object.entries<Record<string, unknown>>(entry?.skills ?? {})) {
    if (other === name) continue
    const defaults = (data?.skills?.[other] ?? {}) as Record<string, unknown>
    const check = await inspectInSandbox(
      await installedDir(context.cwd, other),
      { kind: 'skill', kernelVersion: context.kernelVersion, env: {}, skillConfig: { ...defaults, ...overrides }, strict: false },
      { appDir: context.cwd, timeoutMs: INSPECTION_TIMEOUT_MS },
    )
    const shared = tools.filter((tool) => check.toolNames.includes(tool))
    if (shared.length > 0) clashes.push(problem('RBT_ERR_MARKETPLACE_TOOL_CLASH', name, shared, other, agent))
  }
  return clashes
}

export interface AddOptions {
  agent?: string | undefined
  /** Grant the permissions the skill asks for without asking. */
  yes?: boolean
  /** Let npm run install scripts (the package's and its dependencies'); off by default. */
  allowScripts?: boolean
}

/**
 * Shows what the skill asks for and gets the operator's grant: already in its config entry, `--yes`, or a yes on the
 * terminal. Answers the refusal when there is none.
 */
async function grantPermissions(name: string, version: string, asked: Permissions, existing: unknown, options: AddOptions, context: MarketplaceContext): Promise<Problem | null> {
  context.stderr(`robutler: ${name}@${version} asks for permissions: ${describePermissions(asked)}\n`)
  if (isEmptyPermissions(asked)) return null
  if (existing !== undefined && ungranted(asked, permissionsOf(existing)) === null) {
    context.stderr('robutler: its config entry grants them already\n')
    return null
  }
  if (options.yes) return null
  if (context.confirm === undefined) return problem('RBT_ERR_MARKETPLACE_PERMISSIONS_NOT_GRANTED', name, version, describePermissions(asked), false)
  const granted = await context.confirm(`Grant ${name} these permissions (${describePermissions(asked)})?`)
  return granted ? null : problem('RBT_ERR_MARKETPLACE_PERMISSIONS_NOT_GRANTED', name, version, describePermissions(asked), true)
}

/** What a package's own install scripts are, for `--allow-scripts` to say before npm runs them. */
function installScripts(manifest: Record<string, any>): string[] {
  const scripts = typeof manifest.scripts === 'object' && manifest.scripts !== null ? manifest.scripts : {}
  return ['preinstall', 'install', 'postinstall', 'prepare'].filter((name) => typeof scripts[name] === 'string').map((name) => `${name}: ${scripts[name]}`)
}

/** `add <pkg>[@range] [--agent NAME] [--yes] [--allow-scripts]`. */
export async function runAdd(kind: PackageKind, specText: string, options: AddOptions, context: MarketplaceContext): Promise<number> {
  const agent = options.agent
  const parsed = parsePackageSpec(specText)
  if ('invalid' in parsed) return refuse(context, [problem('RBT_ERR_MARKETPLACE_NAME_INVALID', specText, parsed.invalid)])
  const { spec } = parsed
  const section = SECTION_OF_KIND[kind]
  const [config, snapshot] = await Promise.all([readAppConfig(context.configPath), snapshotApp(context.cwd, spec.name)])
  const early = appProblems(spec.name, kind, config, agent, context, snapshot !== null)
  if (early.length > 0) return refuse(context, early)

  const found = await fetchPublished(spec, { cwd: context.cwd, env: context.env })
  if ('problem' in found) return refuse(context, [found.problem])
  const { published } = found
  if (published.inRange.length === 0) return refuse(context, [problem('RBT_ERR_MARKETPLACE_PACKAGE_NOT_FOUND', spec.name, spec.range, published.all)])
  const verdicts = published.inRange.map((entry) => judgeVersion(spec.name, entry, kind, context.kernelVersion))
  const { chosen, passedOver } = chooseVersion(verdicts, published.distTags.latest, spec.range !== undefined)
  const other = otherKind(published.inRange, kind)
  if (!chosen && other !== null) return refuse(context, [problem('RBT_ERR_MARKETPLACE_WRONG_KIND', spec.name, other, kind, 'add')])
  if (!chosen) return refuse(context, noCompatibleVersion(kind, spec, published, verdicts, context))
  context.stderr(choiceLine(spec.name, chosen, passedOver, context.kernelVersion))
  const manifest = published.inRange.find((entry) => entry.version === chosen.version)!.manifest
  const asked = permissionsOf(manifest.robutler?.permissions)
  if (kind === 'skill') {
    const refused = await grantPermissions(spec.name, chosen.version, asked, (config.data?.skills as Record<string, any> | undefined)?.[spec.name]?.grant, options, context)
    if (refused) return refuse(context, [refused])
  }
  if (options.allowScripts) {
    const scripts = installScripts(manifest)
    context.stderr(`robutler: --allow-scripts: npm runs install scripts: ${scripts.length > 0 ? `${spec.name}'s ${scripts.join('; ')}` : `${spec.name} has none`}, and any of its dependencies'\n`)
  }

  const installFailed = await npmInstall(spec.name, chosen.version, needsExactSave(chosen, verdicts), options.allowScripts ?? false, context)
  if (installFailed) return refuse(context, [installFailed])
  // Its code runs for the first time here, in a child that has no secrets and can write nothing.
  const check = await inspectInSandbox(
    await installedDir(context.cwd, spec.name),
    { kind, kernelVersion: context.kernelVersion, env: {}, strict: false },
    { appDir: context.cwd, timeoutMs: INSPECTION_TIMEOUT_MS },
  )
  if (check.problems.length > 0) {
    const rollbackFailed = await rollBack(spec.name, snapshot!, options.allowScripts ?? false, context)
    const rolledBack = problem('RBT_ERR_MARKETPLACE_ROLLED_BACK', spec.name, chosen.version)
    return refuse(context, [...check.problems, rollbackFailed ?? rolledBack])
  }

  const enabled = enableInConfig(config.text, section, spec.name, agent)
  const edit = kind === 'skill' && !isEmptyPermissions(asked) ? recordGrant(enabled, spec.name, asked) : enabled
  if (edit.changes.length > 0) await writeFile(context.configPath, edit.text)
  const clashes = agent === undefined ? [] : await toolClashes(spec.name, check.toolNames, agent, config.data, context)
  const warnings = [...check.warnings, ...(await unmetRequirements(context.cwd, spec.name)), ...clashes]
  if (warnings.length > 0) context.stderr(`robutler: warning:\n${formatReport(warnings)}\n`)
  const where = edit.changes.length > 0 ? edit.changes.join(', ') : `already enabled in ${config.path}`
  context.stdout(`added ${spec.name}@${check.version}: ${where}\n`)
  return 0
}
