// The load-time report without listening: what `robutler doctor` prints.
import type { DiscoveredPackage, Permissions, Problem } from '@robutler/registry'
import { agentConfigProblems, type AgentRules } from './agent-check.js'
import type { Environment } from './config.js'
import { isRobutlerError } from './errors.js'
import { resolveSettings, type ServerOptions } from './options.js'
import { KERNEL_VERSION, createServer } from './server.js'
import { StartupError } from './startup-error.js'
import { planStartup } from './startup.js'
import type { PluginCommand } from './types.js'

export interface DoctorReport {
  kernelVersion: string
  problems: Problem[]
  /** Enabled packages in boot order. */
  enabled: Array<{ name: string; version: string; kind: string }>
  discovered: DiscoveredPackage[]
  agents: string[]
  /** Every skill that loaded: whether it runs isolated, and the permissions it has (declared, and granted). */
  skills: Array<{ name: string; isolated: boolean; permissions: Permissions }>
  /** Whether plugins were booted and agents built (`boot: true` and no problem before that). */
  booted: boolean
}

export interface FoundCommand {
  plugin: string
  command: PluginCommand
  config: Record<string, unknown>
  baseDir: string
  problems: Problem[]
  /** Checks an agent config by the rules startup applies to the config's agents (see CommandContext.checkAgent). */
  checkAgent: (config: unknown) => Problem[]
}

/** The problems of one agent config by `rules`, as the load-time report words them. */
export function agentProblemsBy(rules: AgentRules): (config: unknown) => Problem[] {
  return (config) => {
    const name = (config as { name?: unknown } | null)?.name
    return agentConfigProblems(config, { ...rules, unknownSkills: 'problem' }).map(({ code, detail, hint }) => ({
      code,
      message: `Agent '${typeof name === 'string' ? name : '(unnamed)'}': ${detail}`,
      ...(hint === undefined ? {} : { hint }),
    }))
  }
}

/** The enabled plugin that contributes `robutler <name>`, or null; loads packages, starts nothing. */
export async function findPluginCommand(name: string, options: ServerOptions, env: Environment): Promise<FoundCommand | null> {
  const settings = resolveSettings(options, env)
  const plan = await planStartup(options, settings, env, KERNEL_VERSION)
  for (const plugin of plan.plugins) {
    const command = (plugin.definition as { commands?: Record<string, PluginCommand> }).commands?.[name]
    if (command && typeof command.run === 'function') {
      return { plugin: plugin.name, command, config: plugin.config, baseDir: settings.baseDir, problems: plan.problems, checkAgent: agentProblemsBy(plan.rules) }
    }
  }
  return null
}

/** A failure of booting plugins or building agents, as report problems. */
function bootProblems(error: unknown): Problem[] {
  if (error instanceof StartupError) return error.problems
  if (isRobutlerError(error)) return [{ code: error.code, message: error.message }]
  return [{ code: 'RBT_ERR_STARTUP', message: (error as Error)?.message ?? String(error) }]
}

/**
 * Every load-time problem of a config. Without `boot`, found without registering a plugin or listening
 * (manifests, versions, requirements, config sections, agent configs). With `boot: true`, when those pass,
 * everything `start` does short of listening runs too — plugins register (connecting to their databases),
 * every agent is built (its skills' `setup` with the configured values) — and then closes again.
 * @example
 * const report = await checkStartup(options, process.env, { boot: true })
 * if (report.problems.length > 0) process.exitCode = 1
 */
export async function checkStartup(
  options: ServerOptions,
  env: Environment = options.env ?? process.env,
  check: { boot?: boolean } = {},
): Promise<DoctorReport> {
  const settings = resolveSettings(options, env)
  const plan = await planStartup(options, settings, env, KERNEL_VERSION)
  const report: DoctorReport = {
    kernelVersion: KERNEL_VERSION,
    problems: plan.problems,
    enabled: plan.report.packages.map((p) => ({ name: p.name, version: p.version, kind: p.kind })),
    discovered: plan.report.discovered,
    agents: (options.agents ?? []).map((a) => a?.name).filter((n): n is string => typeof n === 'string'),
    skills: [...plan.skills.values()].map((skill) => ({ name: skill.name, isolated: Boolean(skill.isolated), permissions: skill.permissions })),
    booted: false,
  }
  if (!check.boot || plan.problems.length > 0) return report
  try {
    const server = await createServer({ ...options, env, logLevel: 'silent' })
    await server.close()
    report.booted = true
  } catch (error) {
    report.problems = bootProblems(error)
  }
  return report
}
