// Checks what a skill's setup returns the way the kernel will when it builds an agent — tool names, run/worker,
// parameter schemas, worker exports, hook names — and runs the tools' declared examples.
import { isDeepStrictEqual } from 'node:util'
import { pathToFileURL } from 'node:url'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { describeAjvErrors } from '../ajv-message.js'
import { problem } from '../errors.js'
import type { Problem } from '../types.js'
import { inspectionKernel, inspectionToolContext } from './inspection-kernel.js'

// ajv-formats is CommonJS whose module.exports is the plugin function; NodeNext types it as the namespace.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

/** The kernel's rules (kernel/src/agent-build.ts), repeated here because the registry may not import the kernel. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/
const HOOK_NAMES = new Set(['onConnection', 'beforeLlmCall', 'afterLlmCall', 'onChunk', 'beforeToolCall', 'afterToolCall', 'onMessage', 'finalizeConnection'])
const SCOPES = new Set(['all', 'owner', 'admin'])
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
const DEFAULT_EXAMPLE_TIMEOUT_MS = 30_000

/** A tool that passed the checks, ready for its examples. */
export interface CheckedTool {
  name: string
  run?: (args: Record<string, unknown>, ctx: unknown) => unknown
  worker?: string
  timeoutMs?: number
  examples: Array<{ arguments: Record<string, unknown>; result?: unknown }>
  validate: ReturnType<Ajv['compile']>
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Runs `setup(config, kernel)` with an inspection kernel; answers its parts or the problem. */
export async function setupSkill(
  name: string,
  definition: { setup: (config: unknown, kernel: unknown) => unknown },
  config: Record<string, unknown>,
  kernel: { version: string; baseDir: string; env: NodeJS.ProcessEnv },
): Promise<{ parts: Record<string, any> } | { problem: Problem }> {
  let parts: unknown
  try {
    parts = await definition.setup(config, inspectionKernel(kernel))
  } catch (error) {
    return { problem: problem('RBT_ERR_VALIDATE_SETUP_FAILED', name, `it threw: ${message(error)}`) }
  }
  if (typeof parts !== 'object' || parts === null || Array.isArray(parts)) {
    return { problem: problem('RBT_ERR_VALIDATE_SETUP_FAILED', name, `it returned ${JSON.stringify(parts) ?? String(parts)}, not an object of parts`) }
  }
  return { parts: parts as Record<string, any> }
}

async function loadWorker(workerPath: string | null): Promise<{ module?: Record<string, unknown>; error?: string }> {
  if (workerPath === null) return {}
  try {
    return { module: await import(pathToFileURL(workerPath).href) }
  } catch (error) {
    return { error: `the worker module does not load: ${message(error)}` }
  }
}

function checkHooksAndRoutes(name: string, parts: Record<string, any>, problems: Problem[]): void {
  for (const [hook, spec] of Object.entries(parts.hooks ?? {})) {
    if (!HOOK_NAMES.has(hook)) problems.push(problem('RBT_ERR_VALIDATE_TOOL_INVALID', name, `hook ${hook}`, `no such hook; hooks: ${[...HOOK_NAMES].join(', ')}`))
    else if (typeof spec !== 'function' && typeof (spec as { fn?: unknown })?.fn !== 'function') {
      problems.push(problem('RBT_ERR_VALIDATE_TOOL_INVALID', name, `hook ${hook}`, 'is neither a function nor { priority, fn }'))
    }
  }
  for (const [index, route] of (Array.isArray(parts.http) ? parts.http : []).entries()) {
    const where = `route ${index + 1} (${route?.method} ${route?.path})`
    if (!METHODS.has(route?.method)) problems.push(problem('RBT_ERR_VALIDATE_TOOL_INVALID', name, where, `method must be one of ${[...METHODS].join(', ')}`))
    if (typeof route?.path !== 'string' || !route.path.startsWith('/')) problems.push(problem('RBT_ERR_VALIDATE_TOOL_INVALID', name, where, 'path must start with /'))
    if (typeof route?.handler !== 'function') problems.push(problem('RBT_ERR_VALIDATE_TOOL_INVALID', name, where, 'handler must be a function'))
  }
}

/** Why `tool` would be refused by the kernel, or null. */
function toolShapeProblem(tool: Record<string, any>, workerPath: string | null): string | null {
  if (typeof tool.description !== 'string') return 'description must be a string'
  if ((tool.run === undefined) === (tool.worker === undefined)) return 'needs exactly one of run or worker'
  if (tool.run !== undefined && typeof tool.run !== 'function') return 'run must be a function'
  if (tool.worker !== undefined && typeof tool.worker !== 'string') return 'worker must be the name of an export of the worker module'
  if (tool.worker !== undefined && workerPath === null) return `names worker '${tool.worker}' but the manifest has no robutler.worker module`
  if (tool.scope !== undefined && !SCOPES.has(tool.scope)) return `scope must be one of ${[...SCOPES].join(', ')}`
  if (tool.examples !== undefined && !Array.isArray(tool.examples)) return 'examples must be an array'
  for (const [index, example] of (tool.examples ?? []).entries()) {
    if (typeof example?.arguments !== 'object' || example.arguments === null || Array.isArray(example.arguments)) {
      return `example ${index + 1} needs an arguments object`
    }
  }
  return null
}

/**
 * Checks the tools, hooks and routes of a skill's parts as the kernel would, and that each worker tool's export is
 * a function of the manifest's worker module. Answers the tools that passed, for `runExamples`.
 */
export async function checkParts(name: string, parts: Record<string, any>, workerPath: string | null): Promise<{ problems: Problem[]; tools: CheckedTool[]; worker?: Record<string, unknown> }> {
  const problems: Problem[] = []
  const tools: CheckedTool[] = []
  // verbose: a failing example's message quotes the value (`arguments.n must be integer, got "two"`).
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true })
  addFormats(ajv)
  const worker = await loadWorker(workerPath)
  const seen = new Set<string>()
  const list: unknown[] = Array.isArray(parts.tools) ? parts.tools : []
  if (parts.tools !== undefined && !Array.isArray(parts.tools)) problems.push(problem('RBT_ERR_VALIDATE_TOOL_INVALID', name, 'tools', 'must be an array'))
  for (const [index, raw] of list.entries()) {
    const tool = (raw ?? {}) as Record<string, any>
    const toolName = typeof tool.name === 'string' ? tool.name : `#${index + 1}`
    if (typeof tool.name !== 'string' || !TOOL_NAME.test(tool.name)) {
      problems.push(problem('RBT_ERR_VALIDATE_TOOL_INVALID', name, `tool ${toolName}`, `the name must match ${TOOL_NAME}`))
      continue
    }
    if (seen.has(tool.name)) problems.push(problem('RBT_ERR_VALIDATE_TOOL_INVALID', name, `tool ${toolName}`, 'is defined twice'))
    seen.add(tool.name)
    const shape = toolShapeProblem(tool, workerPath)
    if (shape) {
      problems.push(problem('RBT_ERR_VALIDATE_TOOL_INVALID', name, `tool ${toolName}`, shape))
      continue
    }
    let validate: CheckedTool['validate']
    try {
      validate = ajv.compile(tool.parameters ?? { type: 'object', properties: {} })
    } catch (error) {
      problems.push(problem('RBT_ERR_VALIDATE_TOOL_SCHEMA_INVALID', name, toolName, message(error)))
      continue
    }
    if (tool.worker !== undefined) {
      const missing = worker.error ?? (typeof worker.module?.[tool.worker] === 'function' ? null : `the worker module ${workerPath} has no exported function '${tool.worker}'`)
      if (missing) {
        problems.push(problem('RBT_ERR_VALIDATE_WORKER_EXPORT_MISSING', name, toolName, missing))
        continue
      }
    }
    tools.push({ name: toolName, run: tool.run, worker: tool.worker, timeoutMs: tool.timeoutMs, examples: tool.examples ?? [], validate })
  }
  checkHooksAndRoutes(name, parts, problems)
  return worker.module ? { problems, tools, worker: worker.module } : { problems, tools }
}

/** As the model would read it: a string stays a string, anything else goes through JSON. */
function asSent(value: unknown): unknown {
  if (value === undefined || typeof value === 'string') return value
  return JSON.parse(JSON.stringify(value))
}

function withTimeout<T>(work: Promise<T>, controller: AbortController, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`timed out after ${timeoutMs} ms`))
      reject(new Error(`timed out after ${timeoutMs} ms`))
    }, timeoutMs)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Runs every declared example: arguments checked against the tool's schema, then the tool run (in process, or
 * its worker export called directly), then, when the example has a `result`, the answer compared (deep equal).
 * Answers the problems and how many examples ran.
 */
export async function runExamples(name: string, tools: readonly CheckedTool[], worker: Record<string, unknown> | undefined): Promise<{ problems: Problem[]; ran: number }> {
  const problems: Problem[] = []
  let ran = 0
  for (const tool of tools) {
    for (const [index, example] of tool.examples.entries()) {
      if (!tool.validate(example.arguments)) {
        problems.push(problem('RBT_ERR_VALIDATE_EXAMPLE_INVALID', name, tool.name, index, describeAjvErrors('arguments', tool.validate.errors)))
        continue
      }
      const timeoutMs = tool.timeoutMs ?? DEFAULT_EXAMPLE_TIMEOUT_MS
      const controller = new AbortController()
      let actual: unknown
      try {
        const args = structuredClone(example.arguments)
        const running = tool.run
          ? Promise.resolve(tool.run(args, inspectionToolContext(controller.signal, timeoutMs)))
          : Promise.resolve((worker![tool.worker!] as (task: unknown) => unknown)(args))
        actual = await withTimeout(running, controller, timeoutMs)
        ran++
      } catch (error) {
        problems.push(problem('RBT_ERR_VALIDATE_EXAMPLE_FAILED', name, tool.name, index, message(error)))
        continue
      }
      if (!('result' in example)) continue
      let got: unknown
      let expected: unknown
      try {
        ;[got, expected] = [asSent(actual), asSent(example.result)]
      } catch (error) {
        problems.push(problem('RBT_ERR_VALIDATE_EXAMPLE_FAILED', name, tool.name, index, `its result is not JSON: ${message(error)}`))
        continue
      }
      if (!isDeepStrictEqual(got, expected)) {
        problems.push(problem('RBT_ERR_VALIDATE_EXAMPLE_MISMATCH', name, tool.name, index, JSON.stringify(expected), JSON.stringify(got) ?? 'undefined'))
      }
    }
  }
  return { problems, ran }
}
