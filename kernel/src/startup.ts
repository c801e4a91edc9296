// The load-time report: every package and agent problem, collected before anything listens.
// `robutler doctor` prints it alone; createServer refuses to start while it has problems.
import { resolvePackages, type LoadReport, type Problem } from '@robutler/registry'
import { checkAgentConfig, type SkillPackage } from './agent-build.js'
import { RESERVED_AGENT_NAMES, describeAjvErrors, validateAgentShape } from './config-schema.js'
import { ERR_AGENT_INVALID, ERR_MODEL_PROVIDER_UNKNOWN } from './errors.js'
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

/** Static agents' problems that need no plugin to have started: shape, reserved names, duplicates, skill configs. */
function agentShapeProblems(agents: AgentConfig[], skills: ReadonlyMap<string, SkillPackage>): Problem[] {
  const problems: Problem[] = []
  const seen = new Set<string>()
  agents.forEach((agent, i) => {
    const label = typeof agent?.name === 'string' ? agent.name : `agents[${i}]`
    if (!validateAgentShape(agent)) {
      problems.push({ code: ERR_AGENT_INVALID.code, message: `Agent '${label}': ${describeAjvErrors(validateAgentShape.errors)}` })
      return
    }
    if (seen.has(agent.name)) problems.push({ code: ERR_AGENT_INVALID.code, message: `Agent '${agent.name}' is defined twice` })
    seen.add(agent.name)
    if (RESERVED_AGENT_NAMES.has(agent.name)) {
      problems.push({ code: ERR_AGENT_INVALID.code, message: `Agent '${agent.name}': '${agent.name}' is a route of its own and cannot name an agent` })
    }
    for (const [name, overrides] of Object.entries(agent.skills ?? {})) {
      const skill = skills.get(name)
      const checked = skill?.validateConfig({ ...skill.defaults, ...overrides })
      if (checked && !checked.ok) {
        problems.push({ code: ERR_AGENT_INVALID.code, message: `Agent '${agent.name}': config of skill '${name}': ${checked.message}` })
      }
    }
  })
  return problems
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
  const problems: Problem[] = [...report.problems, ...agentShapeProblems(agents, skillMap)]
  // Before boot we only know prefixes from manifests (`llm:openai`); a plugin that registers prefixes from its
  // config (named endpoints) provides `llm:*`, and the authoritative check runs again after boot.
  const provided = new Set(report.packages.flatMap((p) => p.manifest.provides))
  if (!provided.has('llm:*')) {
    for (const agent of agents) {
      for (const model of modelsOf(agent)) {
        const { prefix } = splitModel(model)
        if (!provided.has(`llm:${prefix}`)) {
          problems.push({
            code: ERR_MODEL_PROVIDER_UNKNOWN.code,
            message: ERR_MODEL_PROVIDER_UNKNOWN(model, agent.name, prefix).message,
            hint: `npm install @robutler/plugin-${prefix}`,
          })
        }
      }
    }
  }
  return { report, problems: dedupe(problems), plugins, skills: skillMap }
}

/** Agent problems that need the booted providers: run after plugins have registered them. */
export function agentProblems(agents: AgentConfig[], deps: Parameters<typeof checkAgentConfig>[1]): Problem[] {
  return agents.flatMap((agent) =>
    checkAgentConfig(agent, deps).map((message) => ({ code: ERR_AGENT_INVALID.code, message: `Agent '${agent.name}': ${message}` })),
  )
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>()
  return problems.filter((p) => {
    const key = `${p.code}|${p.package ?? ''}|${p.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
