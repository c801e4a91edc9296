// The load-time report without starting anything: what `robutler doctor` prints.
import type { DiscoveredPackage, Problem } from '@robutler/registry'
import type { Environment } from './config.js'
import { resolveSettings, type ServerOptions } from './options.js'
import { KERNEL_VERSION } from './server.js'
import { planStartup } from './startup.js'
import type { PluginCommand } from './types.js'

export interface DoctorReport {
  kernelVersion: string
  problems: Problem[]
  /** Enabled packages in boot order. */
  enabled: Array<{ name: string; version: string; kind: string }>
  discovered: DiscoveredPackage[]
  agents: string[]
}

export interface FoundCommand {
  plugin: string
  command: PluginCommand
  config: Record<string, unknown>
  baseDir: string
  problems: Problem[]
}

/** The enabled plugin that contributes `robutler <name>`, or null; loads packages, starts nothing. */
export async function findPluginCommand(name: string, options: ServerOptions, env: Environment): Promise<FoundCommand | null> {
  const settings = resolveSettings(options, env)
  const plan = await planStartup(options, settings, env, KERNEL_VERSION)
  for (const plugin of plan.plugins) {
    const command = (plugin.definition as { commands?: Record<string, PluginCommand> }).commands?.[name]
    if (command && typeof command.run === 'function') {
      return { plugin: plugin.name, command, config: plugin.config, baseDir: settings.appDir, problems: plan.problems }
    }
  }
  return null
}

/**
 * Every load-time problem of a config, found without registering a plugin or listening.
 * @example
 * const report = await checkStartup(options)
 * if (report.problems.length > 0) process.exitCode = 1
 */
export async function checkStartup(options: ServerOptions, env: Environment = options.env ?? process.env): Promise<DoctorReport> {
  const settings = resolveSettings(options, env)
  const plan = await planStartup(options, settings, env, KERNEL_VERSION)
  return {
    kernelVersion: KERNEL_VERSION,
    problems: plan.problems,
    enabled: plan.report.packages.map((p) => ({ name: p.name, version: p.version, kind: p.kind })),
    discovered: plan.report.discovered,
    agents: (options.agents ?? []).map((a) => a?.name).filter((n): n is string => typeof n === 'string'),
  }
}
