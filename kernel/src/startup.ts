// The load-time report: every package and agent problem, collected before anything listens.
// `robutler doctor` prints it alone; createServer refuses to start while it has problems.
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describePermissions, isFirstParty, permissionsOf, resolvePackages, ungranted, type LoadReport, type LoadedPackage, type Permissions, type Problem } from '@robutler/registry'
import type { SkillPackage } from './agent-build.js'
import { staticAgentProblems, type AgentRules } from './agent-check.js'
import { RESERVED_AGENT_NAMES, SKILL_ENTRY_KEYS } from './config-schema.js'
import { ERR_CONFIG_INVALID, ERR_SKILL_PERMISSION_NOT_GRANTED } from './errors.js'
import { PROMETHEUS_PLUGIN, type ServerOptions, type Settings } from './options.js'
import type { BootablePlugin } from './lifecycle.js'
import { splitModel } from './providers.js'
import type { AgentConfig } from './types.js'
import type { Environment } from './config.js'

export interface StartupPlan {
  report: LoadReport
  problems: Problem[]
  plugins: BootablePlugin[]
  skills: Map<string, SkillPackage>
  /** What agent configs are checked against before plugins boot (by the manifests' promises). */
  rules: AgentRules
}

function modelsOf(agent: AgentConfig): string[] {
  return [agent.model, ...(Array.isArray(agent.fallbackModels) ? agent.fallbackModels : [])].filter((m) => typeof m === 'string')
}

/** Problems of the server settings that only the app can answer: `logPretty` needs pino-pretty installed. */
function settingsProblems(settings: Settings, options: ServerOptions): Problem[] {
  if (!settings.logPretty) return []
  try {
    createRequire(join(settings.appDir, 'package.json')).resolve('pino-pretty')
    return []
  } catch {
    const where = options.configSource ? `${options.configSource.locate(['server', 'logPretty'])}: ` : ''
    return [{ code: ERR_CONFIG_INVALID.code, message: `${where}server.logPretty needs pino-pretty, which is not installed in ${settings.appDir}`, hint: 'npm install --save-dev pino-pretty, or turn logPretty off (JSON lines)' }]
  }
}

/** The config file's place of a package's section, for problems about the package (`file:line:col: `). */
function locatePackageProblems(problems: Problem[], options: ServerOptions, agentSkills: Record<string, string[]>): Problem[] {
  const source = options.configSource
  if (!source) return problems
  return problems.map((entry) => {
    const name = entry.package
    if (name === undefined) return entry
    let path: Array<string | number> | null = null
    if (options.plugins?.[name] !== undefined) path = ['plugins', name]
    else if (options.skills?.[name] !== undefined) path = ['skills', name]
    else if (agentSkills[name]) {
      const index = (options.agents ?? []).findIndex((agent) => agent?.name === agentSkills[name]![0])
      if (index >= 0) path = ['agents', index, 'skills', name]
    }
    return path === null ? entry : { ...entry, message: `${source.locate(path, { key: true })}: ${entry.message}` }
  })
}

/** A `skills` entry without the kernel's own keys (`grant`, `isolate`): what the skill's schema validates. */
function skillSection(entry: Record<string, unknown>): Record<string, unknown> {
  if (!SKILL_ENTRY_KEYS.some((key) => key in entry)) return entry
  const section = { ...entry }
  for (const key of SKILL_ENTRY_KEYS) delete section[key]
  return section
}

/**
 * What the operator granted a skill: its entry's `grant`; without one, a first-party skill (`@robutler/…`) has what
 * it declares and any other skill has nothing.
 */
export function grantOf(name: string, declared: Permissions, entry: Record<string, unknown> | undefined): Permissions {
  if (entry?.grant !== undefined) return permissionsOf(entry.grant)
  return isFirstParty(name) ? declared : permissionsOf(undefined)
}

/** Whether a skill runs isolated: its entry's `isolate`, by default true for every package outside `@robutler/`. */
export function isolates(name: string, entry: Record<string, unknown> | undefined): boolean {
  return typeof entry?.isolate === 'boolean' ? entry.isolate : !isFirstParty(name)
}

/** The problem of a skill whose installed version asks for more than its entry grants (an upgrade asking for more). */
function grantProblem(pkg: LoadedPackage, entry: Record<string, unknown> | undefined): Problem | null {
  const missing = ungranted(pkg.manifest.permissions, grantOf(pkg.name, pkg.manifest.permissions, entry))
  if (missing === null) return null
  const error = ERR_SKILL_PERMISSION_NOT_GRANTED(pkg.name, pkg.version, describePermissions(missing))
  return {
    code: error.code,
    package: pkg.name,
    message: error.message,
    hint: `review them (docs/security.md), then grant them: \`npx robutler skills add ${pkg.name}\` again, or add them to the \`grant\` of its entry in the config's \`skills\` section`,
  }
}

export async function planStartup(options: ServerOptions, settings: Settings, env: Environment, kernelVersion: string): Promise<StartupPlan> {
  const agents = options.agents ?? []
  const skills: Record<string, Record<string, unknown>> = {}
  for (const [name, entry] of Object.entries(options.skills ?? {})) skills[name] = skillSection(entry)
  const agentSkills: Record<string, string[]> = {}
  const capabilities = new Set<string>()
  for (const agent of agents) {
    for (const name of Object.keys(agent?.skills ?? {})) {
      if (options.skills?.[name] === undefined) (agentSkills[name] ??= []).push(agent.name)
      skills[name] ??= {}
    }
    for (const model of modelsOf(agent)) capabilities.add(`llm:${splitModel(model).prefix}`)
  }
  const fromEnvironment: Record<string, string> = {}
  if (settings.monitoring && !options.plugins?.[PROMETHEUS_PLUGIN]) {
    fromEnvironment[env.PROMETHEUS_ENABLED === 'true' ? 'PROMETHEUS_ENABLED=true' : 'enableMonitoring'] = PROMETHEUS_PLUGIN
  }
  const isolated = Object.keys(skills).filter((name) => isolates(name, options.skills?.[name]))
  const report = await resolvePackages({
    appDir: settings.appDir,
    kernelVersion,
    selection: { plugins: options.plugins ?? {}, skills, agentSkills, capabilities: [...capabilities], fromEnvironment, isolated },
  })

  const skillMap = new Map<string, SkillPackage>()
  const plugins: BootablePlugin[] = []
  const grantProblems: Problem[] = []
  for (const pkg of report.packages) {
    if (pkg.kind === 'skill') {
      const entry = options.skills?.[pkg.name]
      const refused = grantProblem(pkg, entry)
      if (refused !== null) {
        grantProblems.push(refused)
        continue
      }
      skillMap.set(pkg.name, {
        name: pkg.name,
        definition: pkg.definition,
        defaults: pkg.config,
        validateConfig: pkg.validateConfig,
        workerPath: pkg.workerPath,
        permissions: pkg.manifest.permissions,
        isolated: pkg.isolated ? { dir: pkg.dir, entry: pkg.entryPath } : null,
      })
    } else {
      plugins.push({ name: pkg.name, config: pkg.config, definition: pkg.definition })
    }
  }
  // Before boot only the manifests say which prefixes will be served (`llm:openai`); a plugin that registers
  // prefixes from its config (named endpoints) provides `llm:*`, and the check runs again after boot. Every
  // enabled package counts, one that failed its own checks too: its problem is reported already, and a second
  // one saying its models have no provider would be false.
  const enabled = new Set(report.enabled)
  const provided = new Set(report.discovered.filter((p) => enabled.has(p.name)).flatMap((p) => p.manifest?.provides ?? []))
  const rules: AgentRules = {
    hasProvider: (prefix) => provided.has('llm:*') || provided.has(`llm:${prefix}`),
    // Surfaces reserve their route names as their plugins boot: after boot, the check runs with those too.
    reservedBy: (name) => (RESERVED_AGENT_NAMES.has(name) ? 'the kernel' : null),
    skills: skillMap,
    unknownSkills: 'ignore',
    params: settings.params,
  }
  const where = options.configSource ? (i: number) => `${options.configSource!.locate(['agents', i])}: ` : undefined
  const problems: Problem[] = [
    ...settingsProblems(settings, options),
    ...locatePackageProblems([...report.problems, ...grantProblems], options, agentSkills),
    ...staticAgentProblems(agents, rules, where),
  ]
  return { report, problems, plugins, skills: skillMap, rules }
}
