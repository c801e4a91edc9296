// The load-time report: every package and agent problem, collected before anything listens.
// `robutler doctor` prints it alone; createServer refuses to start while it has problems.
import { resolvePackages, type LoadReport, type Problem } from '@robutler/registry'
import type { SkillPackage } from './agent-build.js'
import { staticAgentProblems, type AgentRules } from './agent-check.js'
import { RESERVED_AGENT_NAMES } from './config-schema.js'
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
}

function modelsOf(agent: AgentConfig): string[] {
  return [agent.model, ...(Array.isArray(agent.fallbackModels) ? agent.fallbackModels : [])].filter((m) => typeof m === 'string')
}

export async function planStartup(options: ServerOptions, settings: Settings, env: Environment, kernelVersion: string): Promise<StartupPlan> {
  const agents = options.agents ?? []
  const skills: Record<string, Record<string, unknown>> = { ...(options.skills ?? {}) }
  const capabilities = new Set<string>()
  for (const agent of agents) {
    for (const name of Object.keys(agent?.skills ?? {})) skills[name] ??= {}
    for (const model of modelsOf(agent)) capabilities.add(`llm:${splitModel(model).prefix}`)
  }
  const fromEnvironment: Record<string, string> = {}
  if (settings.monitoring && !options.plugins?.[PROMETHEUS_PLUGIN]) {
    fromEnvironment[env.PROMETHEUS_ENABLED === 'true' ? 'PROMETHEUS_ENABLED=true' : 'enableMonitoring'] = PROMETHEUS_PLUGIN
  }
  const report = await resolvePackages({
    appDir: settings.appDir,
    kernelVersion,
    selection: { plugins: options.plugins ?? {}, skills, capabilities: [...capabilities], fromEnvironment },
  })

  const skillMap = new Map<string, SkillPackage>()
  const plugins: BootablePlugin[] = []
  for (const pkg of report.packages) {
    if (pkg.kind === 'skill') {
      skillMap.set(pkg.name, { name: pkg.name, definition: pkg.definition, defaults: pkg.config, validateConfig: pkg.validateConfig, workerPath: pkg.workerPath })
    } else {
      plugins.push({ name: pkg.name, config: pkg.config, definition: pkg.definition })
    }
  }
  // Before boot only the manifests say which prefixes will be served (`llm:openai`); a plugin that registers
  // prefixes from its config (named endpoints) provides `llm:*`, and the check runs again after boot.
  const provided = new Set(report.packages.flatMap((p) => p.manifest.provides))
  const rules: AgentRules = {
    hasProvider: (prefix) => provided.has('llm:*') || provided.has(`llm:${prefix}`),
    // Surfaces reserve their route names as their plugins boot: after boot, the check runs with those too.
    reservedBy: (name) => (RESERVED_AGENT_NAMES.has(name) ? 'the kernel' : null),
    skills: skillMap,
    unknownSkills: 'ignore',
    params: settings.params,
  }
  const problems: Problem[] = [...report.problems, ...staticAgentProblems(agents, rules)]
  return { report, problems, plugins, skills: skillMap }
}
