// What a skill's setup() may return: the rules the kernel holds its parts to when it builds an agent, and that
// `robutler skills validate` checks before a skill is published. Every problem is listed, not only the first.
import type { HookName, Scope, SkillRoute } from './types.js'

/** Hook names, in the order hooks run in a request. */
export const HOOK_NAMES: readonly HookName[] = [
  'onConnection',
  'beforeLlmCall',
  'afterLlmCall',
  'onChunk',
  'beforeToolCall',
  'afterToolCall',
  'onMessage',
  'finalizeConnection',
]

/** Caller scopes, weakest first: `admin` ⊃ `owner` ⊃ `all`. */
export const SCOPES: readonly Scope[] = ['all', 'owner', 'admin']

/** Tool names as OpenAI's function calling accepts them. */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/

/** The HTTP methods a skill route may use. */
export const ROUTE_METHODS: readonly SkillRoute['method'][] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']

/** One thing wrong with what a skill's setup returned. */
export interface SkillPartProblem {
  /** Which part: `setup` (what it returned), `tools`, `tool NAME` (`tool #N` without a valid name), `hook NAME`, `route N (METHOD PATH)`. */
  part: string
  /** For a tool's problem: the tool's index in `tools`. */
  toolIndex?: number
  message: string
}

export interface SkillRuleOptions {
  /** The skill's worker module (its manifest's `robutler.worker`), or null when it has none. */
  workerPath: string | null
  /** The kernel permissions the skill has (`access` lets it declare who may use its agent); default none. */
  kernelPermissions?: readonly string[]
}

type Loose = Record<string, any>

function isObject(value: unknown): value is Loose {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** What is wrong with one tool's shape, each a sentence. */
function toolShapeProblems(tool: Loose, workerPath: string | null): string[] {
  const problems: string[] = []
  if (typeof tool.description !== 'string') problems.push('description must be a string')
  if ((tool.run === undefined) === (tool.worker === undefined)) problems.push('needs exactly one of run or worker')
  if (tool.run !== undefined && typeof tool.run !== 'function') problems.push('run must be a function')
  if (tool.worker !== undefined && typeof tool.worker !== 'string') problems.push('worker must be the name of an export of the worker module')
  if (typeof tool.worker === 'string' && workerPath === null) problems.push(`names worker '${tool.worker}' but the manifest has no robutler.worker module`)
  if (tool.scope !== undefined && !SCOPES.includes(tool.scope)) problems.push(`scope must be one of ${SCOPES.join(', ')}`)
  return problems
}

function toolProblems(tools: unknown, workerPath: string | null): SkillPartProblem[] {
  if (tools === undefined) return []
  if (!Array.isArray(tools)) return [{ part: 'tools', message: 'must be an array' }]
  const problems: SkillPartProblem[] = []
  const seen = new Set<string>()
  for (const [index, raw] of tools.entries()) {
    const tool: Loose = isObject(raw) ? raw : {}
    const named = typeof tool.name === 'string' && TOOL_NAME.test(tool.name)
    const part = `tool ${typeof tool.name === 'string' ? tool.name : `#${index + 1}`}`
    const add = (message: string) => problems.push({ part, toolIndex: index, message })
    if (!named) add(`the name must match ${TOOL_NAME}`)
    else if (seen.has(tool.name)) add('is defined twice')
    if (named) seen.add(tool.name)
    for (const message of toolShapeProblems(tool, workerPath)) add(message)
  }
  return problems
}

function hookProblems(hooks: unknown): SkillPartProblem[] {
  if (hooks === undefined) return []
  if (!isObject(hooks)) return [{ part: 'hooks', message: 'must be an object of hook name → function or { priority, fn }' }]
  const problems: SkillPartProblem[] = []
  for (const [name, spec] of Object.entries(hooks)) {
    const part = `hook ${name}`
    if (!HOOK_NAMES.includes(name as HookName)) problems.push({ part, message: `no such hook; hooks: ${HOOK_NAMES.join(', ')}` })
    else if (typeof spec !== 'function' && typeof spec?.fn !== 'function') problems.push({ part, message: 'is neither a function nor { priority, fn }' })
  }
  return problems
}

function routeProblems(routes: unknown): SkillPartProblem[] {
  if (routes === undefined) return []
  if (!Array.isArray(routes)) return [{ part: 'http', message: 'must be an array of routes' }]
  const problems: SkillPartProblem[] = []
  for (const [index, raw] of routes.entries()) {
    const route: Loose = isObject(raw) ? raw : {}
    const part = `route ${index + 1} (${route.method} ${route.path})`
    if (!ROUTE_METHODS.includes(route.method)) problems.push({ part, message: `method must be one of ${ROUTE_METHODS.join(', ')}` })
    if (typeof route.path !== 'string' || !route.path.startsWith('/')) problems.push({ part, message: 'path must start with /' })
    if (typeof route.handler !== 'function') problems.push({ part, message: 'handler must be a function' })
  }
  return problems
}

function toolSourceProblems(source: unknown): SkillPartProblem[] {
  if (source === undefined) return []
  if (isObject(source) && typeof source.tools === 'function' && typeof source.watch === 'function') return []
  return [{ part: 'toolSource', message: 'must be an object with tools() and watch(changed)' }]
}

function accessProblems(access: unknown, kernelPermissions: readonly string[]): SkillPartProblem[] {
  if (access === undefined) return []
  if (!kernelPermissions.includes('access')) {
    return [{ part: 'access', message: "needs the kernel permission 'access' (robutler.permissions.kernel in its package.json), granted by the operator" }]
  }
  return isObject(access) ? [] : [{ part: 'access', message: 'must be an object of required, owner and admins' }]
}

/**
 * Every problem of what a skill's setup returned — its tools (name, run or worker, scope), tool source, hooks and routes — in
 * the order of the parts. Empty when the kernel will take them. Tool parameter schemas are checked when they are
 * compiled, and a tool name two skills of one agent share when the agent is built.
 *
 * @example
 * const problems = skillPartsProblems(await skill.setup(config, kernel), { workerPath: null })
 * if (problems.length > 0) throw new Error(describeSkillPartProblems(problems))
 */
export function skillPartsProblems(parts: unknown, options: SkillRuleOptions): SkillPartProblem[] {
  if (!isObject(parts)) return [{ part: 'setup', message: `returned ${JSON.stringify(parts) ?? String(parts)}, not an object of parts` }]
  return [
    ...accessProblems(parts.access, options.kernelPermissions ?? []),
    ...toolProblems(parts.tools, options.workerPath),
    ...toolSourceProblems(parts.toolSource),
    ...hookProblems(parts.hooks),
    ...routeProblems(parts.http),
  ]
}

/** The problems as one line: `tool x: needs exactly one of run or worker; hook y: …`. */
export function describeSkillPartProblems(problems: readonly SkillPartProblem[]): string {
  return problems.map((problem) => `${problem.part}: ${problem.message}`).join('; ')
}
