// What operators' tools (the console) may read about a running server: its agents as configured and cached, and
// its packages as the load-time report found them. Built on request, off the hot path; never instructions, skill
// configs or secrets.
import { kernelAccepts, type LoadReport } from '@robutler/registry'
import type { BuiltAgent } from './agent-build.js'
import type { AgentDescription, PackageReport } from './types.js'

/** One built agent, described. Tools are grouped by the skill that gives them. */
export function describeAgent(agent: BuiltAgent, source: AgentDescription['source']): AgentDescription {
  const skills = new Map<string, AgentDescription['skills'][number]>()
  for (const name of agent.skills) skills.set(name, { name, tools: [] })
  for (const tool of agent.tools.values()) {
    let skill = skills.get(tool.skill)
    if (!skill) skills.set(tool.skill, (skill = { name: tool.skill, tools: [] }))
    skill.tools.push({
      name: tool.name,
      description: tool.definition.function.description ?? '',
      scope: tool.scope,
      runs: tool.worker ? 'worker' : 'inline',
      // The kernel runs every skill's tools in its own process today: no skill is isolated (docs/security.md).
      isolated: false,
    })
  }
  return {
    name: agent.name,
    description: agent.summary.description,
    model: agent.config.model,
    fallbackModels: [...(agent.config.fallbackModels ?? [])],
    scopes: [...(agent.config.scopes ?? ['all'])],
    owner: agent.owner,
    admins: [...agent.admins],
    requireIdentity: agent.requireIdentity,
    source,
    skills: [...skills.values()],
  }
}

/** The server's package report: every discovered package, enabled or not, with the load-time problems. */
export function packageReport(kernelVersion: string, report: LoadReport | null, problems: PackageReport['problems']): PackageReport {
  const enabled = new Set(report?.enabled ?? [])
  const packages = (report?.discovered ?? []).map((found) => {
    const range = found.manifest?.kernel ?? null
    const declared = (found.packageJson as { robutler?: { permissions?: unknown } }).robutler?.permissions
    return {
      name: found.name,
      version: found.version,
      kind: found.manifest?.kind ?? 'invalid',
      kernelRange: range,
      compatible: range !== null && kernelAccepts(range, kernelVersion),
      enabled: enabled.has(found.name),
      permissions: typeof declared === 'object' && declared !== null ? (declared as Record<string, unknown>) : null,
    }
  })
  // A package nobody enables may still be broken: its manifest's problems are listed too, once.
  const all = new Map<string, PackageReport['problems'][number]>()
  for (const { code, message, package: pkg, hint } of [...problems, ...(report?.discovered ?? []).flatMap((found) => found.problems)]) {
    all.set(`${code} ${message}`, { code, message, package: pkg, hint })
  }
  return { kernelVersion, problems: [...all.values()], packages }
}
