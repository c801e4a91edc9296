// The one check of an agent config: startup runs it on the static agents (before plugins boot, against the
// providers their manifests promise, and after, against the ones they registered), and buildAgent on every
// agent it builds, static or loaded. Each problem carries the code it is reported under.
import { providerHint, type Problem } from '@robutler/registry'
import type { SkillPackage } from './agent-build.js'
import { describeAjvErrors, reservedNameProblem, validateAgentShape } from './config-schema.js'
import { ERR_AGENT_INVALID, ERR_MODEL_PROVIDER_UNKNOWN, type RobutlerError } from './errors.js'
import { unsafeKeyPath } from './json-safety.js'
import { paramPolicyProblems, type ParamPolicyConfig } from './param-policy.js'
import { splitModel } from './providers.js'
import type { AgentConfig } from './types.js'

/** What an agent config is checked against. */
export interface AgentRules {
  /** Whether an enabled plugin serves models of this prefix. */
  hasProvider: (prefix: string) => boolean
  /** Who serves a route of that name under the prefix ('the kernel', or a surface's plugin), or null. */
  reservedBy: (name: string) => string | null
  /** The enabled skills. */
  skills: ReadonlyMap<string, SkillPackage>
  /**
   * A skill the agent names that is not among `skills`: a problem of the agent ('problem'), or one the registry
   * has reported already ('ignore': at startup, naming a skill enables it, so a missing one is a package problem).
   */
  unknownSkills: 'problem' | 'ignore'
  /** The server's params policy (`server.params`), which an agent's own overrides key by key. */
  params: ParamPolicyConfig
}

export interface AgentProblem {
  code: string
  /** What is wrong, without the agent's name. */
  detail: string
  /** What to do about it. */
  hint?: string
}

function invalid(detail: string, hint?: string): AgentProblem {
  return { code: ERR_AGENT_INVALID.code, detail, hint }
}

/**
 * Everything wrong with an agent config that can be found without running a skill: its shape, a name another
 * route has, its models' providers, its skills and their configs. Empty when the agent can be built.
 */
export function agentConfigProblems(config: unknown, rules: AgentRules): AgentProblem[] {
  // A prototype the schema cannot see (its keys read as the agent's own): from a loader, a literal, an assignment.
  const unsafe = unsafeKeyPath(config)
  if (unsafe !== null) return [invalid(`${unsafe} is a prototype key; an agent config must be plain JSON data`)]
  if (!validateAgentShape(config)) return [invalid(describeAjvErrors(validateAgentShape.errors))]
  const agent = config as AgentConfig
  const problems: AgentProblem[] = []
  // The schema has checked the name's pattern.
  const holder = rules.reservedBy(agent.name)
  if (holder !== null) problems.push(invalid(reservedNameProblem(agent.name, holder)))
  for (const model of new Set([agent.model, ...(agent.fallbackModels ?? [])])) {
    const { prefix } = splitModel(model)
    if (!rules.hasProvider(prefix)) {
      problems.push({ code: ERR_MODEL_PROVIDER_UNKNOWN.code, detail: ERR_MODEL_PROVIDER_UNKNOWN(model, prefix).message, hint: providerHint(prefix) })
    }
  }
  if (agent.params) for (const detail of paramPolicyProblems(agent.params, rules.params)) problems.push(invalid(detail))
  for (const [skillName, overrides] of Object.entries(agent.skills ?? {})) {
    const skill = rules.skills.get(skillName)
    if (!skill) {
      if (rules.unknownSkills === 'problem') {
        problems.push(invalid(`skill '${skillName}' is not installed or not enabled`, `npm install ${skillName}, then name it in the config`))
      }
      continue
    }
    const checked = skill.validateConfig({ ...skill.defaults, ...overrides })
    if (!checked.ok) problems.push(invalid(`config of skill '${skillName}': ${checked.message}`))
  }
  return problems
}

/**
 * The static agents' problems as the load-time report lists them, names defined twice included. `where` says
 * where agent `i` is written (`robutler.config.json:12:5: `), when the agents came from a config file.
 */
export function staticAgentProblems(agents: readonly unknown[], rules: AgentRules, where: (index: number) => string = () => ''): Problem[] {
  const problems: Problem[] = []
  const seen = new Set<string>()
  agents.forEach((agent, i) => {
    const name = (agent as { name?: unknown } | null)?.name
    const label = typeof name === 'string' ? name : `agents[${i}]`
    for (const { code, detail, hint } of agentConfigProblems(agent, rules)) {
      problems.push({ code, message: `${where(i)}Agent '${label}': ${detail}`, ...(hint === undefined ? {} : { hint }) })
    }
    if (typeof name !== 'string') return
    if (seen.has(name)) problems.push({ code: ERR_AGENT_INVALID.code, message: `${where(i)}Agent '${name}' is defined twice` })
    seen.add(name)
  })
  return problems
}

/** The one error an agent that cannot be built answers with: RBT_ERR_AGENT_INVALID naming every problem. */
export function agentInvalid(name: string, problems: readonly AgentProblem[]): RobutlerError {
  return ERR_AGENT_INVALID(name, problems.map((p) => (p.hint === undefined ? p.detail : `${p.detail} (${p.hint})`)).join('; '))
}
