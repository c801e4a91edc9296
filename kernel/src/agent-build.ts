// Builds an agent's per-agent state once, when it is loaded: model targets, skills' tools, hooks, prompts, routes,
// and what each caller scope sees. Nothing here runs per request.
import FindMyWay from 'find-my-way'
import type { Logger } from 'pino'
import { agentConfigProblems, agentInvalid, type AgentRules } from './agent-check.js'
import { ERR_SKILL_SETUP_FAILED } from './errors.js'
import { ParamPolicy } from './param-policy.js'
import type { ProviderRegistry, ModelTarget } from './providers.js'
import { scopeAllows, scopeLevel } from './auth.js'
import { HOOK_NAMES, SCOPES, describeSkillPartProblems, skillPartsProblems } from './skill-rules.js'
import type { Permissions } from '@robutler/registry'
import type { ToolValidators, ArgsValidator } from './tool-validators.js'
import type {
  AgentConfig,
  ChatMessage,
  HookMap,
  HookName,
  Scope,
  SkillApi,
  SkillParts,
  SkillRoute,
  SkillTool,
  SkillToolSource,
  ToolDefinition,
} from './types.js'
import type { AgentSummary } from './surface-types.js'

const DEFAULT_PRIORITY = 50

/** A skill package as the kernel holds it after loading. */
export interface SkillPackage {
  name: string
  definition: { name: string; setup: (config: any, api: SkillApi) => SkillParts | Promise<SkillParts> }
  defaults: Record<string, unknown>
  validateConfig: (config: unknown) => { ok: true; value: Record<string, unknown> } | { ok: false; message: string }
  workerPath: string | null
  /** What its manifest declares, and its config entry grants (startup refuses a skill asking for more). */
  permissions: Permissions
  /** Set when it runs in processes of its own (its `definition` was never imported here). */
  isolated?: { dir: string; entry: string } | null
}

export interface BuiltTool {
  name: string
  skill: string
  scope: Scope
  definition: ToolDefinition
  validate: ArgsValidator
  run?: SkillTool['run']
  worker?: string
  workerPath: string | null
  timeoutMs?: number
  remote?: 'mcp'
}

export interface HookEntry<K extends HookName> {
  fn: HookMap[K]
  priority: number
  skill: string
}

export type HookTable = { [K in HookName]: Array<HookEntry<K>> }

export interface ScopeView {
  /** The system message: instructions, then skill prompts by priority. */
  system: ChatMessage | null
  tools: ToolDefinition[]
  /** The `GET /{agent}` body for this scope, serialised once. */
  infoJson: string
}

export interface BuiltRoute {
  route: SkillRoute
  skill: string
}

export interface BuiltAgent {
  name: string
  config: AgentConfig
  /** The primary model, then fallbackModels in order. */
  targets: ModelTarget[]
  minScope: Scope
  owner: string | null
  admins: ReadonlySet<string>
  /** A skill (skill-auth) asks that every caller has an identity. */
  requireIdentity: boolean
  maxIterations: number
  /** Which of a client's request fields reach the provider (the agent's `params` over `server.params`). */
  params: ParamPolicy
  tools: Map<string, BuiltTool>
  hooks: HookTable
  views: Record<Scope, ScopeView>
  router: FindMyWay.Instance<FindMyWay.HTTPVersion.V1> | null
  skills: string[]
  /** What surfaces may tell a client about it. */
  summary: AgentSummary
}

export interface BuildDeps {
  providers: ProviderRegistry
  /** What the config is checked against first (agentConfigProblems). */
  rules: AgentRules
  skills: ReadonlyMap<string, SkillPackage>
  validators: ToolValidators
  kernelFor: (skill: string, agent: string) => SkillApi
  /** Sets an isolated skill up for an agent in its processes: its tools call into them. */
  isolatedSetup: (skill: SkillPackage, agent: string, config: Record<string, unknown>) => Promise<SkillParts>
  urlPrefix: string
  /** Where a skill's changing tools that cannot be offered are reported. */
  log: Logger
}

type Prompt = { priority: number; scope: Scope; text: string }

/** A skill's `toolSource`, and the names of the tools it gave the agent last. */
interface LiveTools {
  skill: SkillPackage
  source: SkillToolSource
  names: Set<string>
}

function emptyHooks(): HookTable {
  return Object.fromEntries(HOOK_NAMES.map((name) => [name, []])) as unknown as HookTable
}

function builtTool(tool: SkillTool, skill: SkillPackage, deps: BuildDeps): BuiltTool {
  const parameters = tool.parameters ?? { type: 'object', properties: {} }
  return {
    name: tool.name,
    skill: skill.name,
    scope: tool.scope ?? 'all',
    definition: { type: 'function', function: { name: tool.name, description: tool.description, parameters } },
    validate: deps.validators.compile(parameters, `${skill.name} tool ${tool.name}`),
    run: tool.run,
    worker: tool.worker,
    workerPath: skill.workerPath,
    timeoutMs: tool.timeoutMs,
    remote: tool.remote,
  }
}

function addParts(agent: BuiltAgent, skill: SkillPackage, parts: SkillParts, deps: BuildDeps, prompts: Prompt[], routes: BuiltRoute[], live: LiveTools[]): void {
  if (parts.access) {
    if (parts.access.required) agent.requireIdentity = true
    if (parts.access.owner) agent.owner = parts.access.owner
    for (const admin of parts.access.admins ?? []) (agent.admins as Set<string>).add(admin)
  }
  for (const tool of parts.tools ?? []) {
    const taken = agent.tools.get(tool.name)
    if (taken) {
      const by = taken.skill === skill.name ? 'twice by this skill' : `by skill '${taken.skill}' too`
      throw new Error(`tool '${tool.name}' is defined ${by}: the tools of one agent's skills need distinct names (attach only one of them to this agent)`)
    }
    agent.tools.set(tool.name, builtTool(tool, skill, deps))
  }
  if (parts.toolSource !== undefined) live.push({ skill, source: parts.toolSource, names: new Set() })
  for (const name of Object.keys(parts.hooks ?? {}) as HookName[]) {
    const spec = parts.hooks![name] as any
    const entry = typeof spec === 'function' ? { fn: spec, priority: DEFAULT_PRIORITY } : { fn: spec.fn, priority: spec.priority ?? DEFAULT_PRIORITY }
    ;(agent.hooks[name] as Array<HookEntry<any>>).push({ ...entry, skill: skill.name })
  }
  for (const prompt of parts.prompts ?? []) {
    const p = typeof prompt === 'string' ? { text: prompt } : prompt
    prompts.push({ priority: p.priority ?? DEFAULT_PRIORITY, scope: p.scope ?? 'all', text: p.text })
  }
  for (const route of parts.http ?? []) routes.push({ route, skill: skill.name })
}

/**
 * Gives the agent a skill's changing tools as they are now, in place of the ones it gave last. A tool that breaks
 * the rules, or has a name the agent already has, is left out with a warning: these lists come from outside (an MCP
 * server) while the server runs, where there is no startup to stop.
 */
function takeLiveTools(agent: BuiltAgent, live: LiveTools, deps: BuildDeps): void {
  for (const name of live.names) agent.tools.delete(name)
  live.names.clear()
  const tools = live.source.tools()
  const refused = new Map<number, string>()
  for (const problem of skillPartsProblems({ tools }, { workerPath: live.skill.workerPath, kernelPermissions: live.skill.permissions.kernel })) {
    if (problem.toolIndex !== undefined) refused.set(problem.toolIndex, `${problem.part}: ${problem.message}`)
  }
  for (const [index, tool] of tools.entries()) {
    let problem = refused.get(index) ?? (agent.tools.has(tool.name) ? `tool ${tool.name}: the agent already has a tool of this name` : null)
    if (problem === null) {
      try {
        agent.tools.set(tool.name, builtTool(tool, live.skill, deps))
        live.names.add(tool.name)
      } catch (error: any) {
        problem = `tool ${tool.name}: ${error?.message ?? error}`
      }
    }
    if (problem !== null) deps.log.warn({ agent: agent.name, skill: live.skill.name, problem }, 'a tool of the skill is left out')
  }
}

function scopeView(agent: BuiltAgent, scope: Scope, prompts: Prompt[], urlPrefix: string): ScopeView {
  const texts = [agent.config.instructions, ...prompts.filter((p) => scopeAllows(scope, p.scope)).map((p) => p.text)].filter(
    (t): t is string => typeof t === 'string' && t.trim() !== '',
  )
  const visible = [...agent.tools.values()].filter((t) => scopeAllows(scope, t.scope))
  const base = `${urlPrefix}/${agent.name}`
  const info = {
    name: agent.name,
    description: agent.config.description ?? '',
    model: agent.config.model,
    skills: agent.skills,
    tools: visible.map((t) => ({ name: t.name, description: t.definition.function.description ?? '', skill: t.skill })),
    endpoints: { info: base, health: `${base}/health`, chat: `${base}/chat/completions` },
  }
  return {
    system: texts.length > 0 ? { role: 'system', content: texts.join('\n\n') } : null,
    tools: visible.map((t) => t.definition),
    infoJson: JSON.stringify(info),
  }
}

/**
 * Validates an agent config and builds its state: each attached skill's setup runs once, here.
 * Throws RBT_ERR_AGENT_INVALID naming every problem.
 */
export async function buildAgent(config: AgentConfig, deps: BuildDeps): Promise<BuiltAgent> {
  const problems = agentConfigProblems(config, deps.rules)
  const name = typeof (config as any)?.name === 'string' ? (config as any).name : '(unnamed)'
  if (problems.length > 0) throw agentInvalid(name, problems)
  const scopes = config.scopes ?? ['all']
  const agent: BuiltAgent = {
    name,
    config,
    targets: [config.model, ...(config.fallbackModels ?? [])].map((m) => deps.providers.target(m)!),
    minScope: scopes.reduce((min, s) => (scopeLevel(s) < scopeLevel(min) ? s : min), 'admin' as Scope),
    owner: config.owner ?? null,
    admins: new Set(),
    requireIdentity: false,
    maxIterations: config.maxIterations ?? 10,
    params: new ParamPolicy(name, deps.rules.params, config.params),
    tools: new Map(),
    hooks: emptyHooks(),
    views: {} as Record<Scope, ScopeView>,
    router: null,
    skills: Object.keys(config.skills ?? {}),
    summary: { name, description: config.description ?? '', model: config.model, owner: config.owner ?? null },
  }
  const prompts: Prompt[] = []
  const routes: BuiltRoute[] = []
  const live: LiveTools[] = []
  for (const [skillName, overrides] of Object.entries(config.skills ?? {})) {
    const skill = deps.skills.get(skillName)!
    const checked = skill.validateConfig({ ...skill.defaults, ...overrides })
    try {
      const config = (checked as { value: Record<string, unknown> }).value
      const parts = skill.isolated ? await deps.isolatedSetup(skill, name, config) : await skill.definition.setup(config, deps.kernelFor(skillName, name))
      const problems = skillPartsProblems(parts, { workerPath: skill.workerPath, kernelPermissions: skill.permissions.kernel })
      if (problems.length > 0) throw new Error(describeSkillPartProblems(problems))
      addParts(agent, skill, parts, deps, prompts, routes, live)
    } catch (error: any) {
      throw ERR_SKILL_SETUP_FAILED(skillName, name, error?.message ?? String(error), error)
    }
  }
  agent.summary.owner = agent.owner
  for (const name of HOOK_NAMES) (agent.hooks[name] as Array<HookEntry<any>>).sort((a, b) => a.priority - b.priority)
  prompts.sort((a, b) => a.priority - b.priority)
  // After every skill's fixed tools: those win a name over tools that come and go.
  for (const source of live) takeLiveTools(agent, source, deps)
  const makeViews = () => {
    for (const scope of SCOPES) agent.views[scope] = scopeView(agent, scope, prompts, deps.urlPrefix)
  }
  makeViews()
  for (const source of live) {
    source.source.watch(function liveToolsChanged() {
      try {
        takeLiveTools(agent, source, deps)
        makeViews()
      } catch (error) {
        deps.log.error({ err: error, agent: agent.name, skill: source.skill.name }, "a skill's changed tools could not be taken")
      }
    })
  }
  if (routes.length > 0) {
    const router = FindMyWay({ ignoreTrailingSlash: true })
    for (const built of routes) {
      try {
        router.on(built.route.method, built.route.path, () => undefined, built)
      } catch (error: any) {
        throw ERR_SKILL_SETUP_FAILED(built.skill, name, `route ${built.route.method} ${built.route.path}: ${error.message}`, error)
      }
    }
    agent.router = router
  }
  return agent
}
