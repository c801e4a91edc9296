// Checks what a skill's setup returns with the kernel's own rules (skillPartsProblems: tool names, run/worker,
// scopes, hooks, routes), then what only a package folder can tell — parameter schemas compile, worker exports
// exist — and runs the tools' declared examples.
import { isDeepStrictEqual } from 'node:util'
import { pathToFileURL } from 'node:url'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { skillPartsProblems, type SkillDefinition, type SkillPartProblem, type SkillTool } from '@robutler/kernel'
import { describeAjvErrors, type Problem } from '@robutler/registry'
import { problem } from '../errors.js'
import { inspectionKernel, inspectionToolContext, type InspectionOptions } from './inspection-kernel.js'

// ajv-formats is CommonJS whose module.exports is the plugin function; NodeNext types it as the namespace.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

const DEFAULT_EXAMPLE_TIMEOUT_MS = 30_000

type Loose = Record<string, any>

/** A tool that passed the checks, ready for its examples. */
export interface CheckedTool {
  name: string
  run?: SkillTool['run']
  worker?: string
  timeoutMs?: number
  examples: Array<{ arguments: Record<string, unknown>; result?: unknown }>
  validate: ReturnType<Ajv['compile']>
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Runs `setup(config, api)` with the skill API outside a server; answers what it returned, or the problem when it threw. */
export async function setupSkill(
  name: string,
  definition: Pick<SkillDefinition, 'setup'>,
  config: Record<string, unknown>,
  kernel: InspectionOptions,
): Promise<{ parts: unknown } | { problem: Problem }> {
  try {
    return { parts: await definition.setup(config, inspectionKernel(kernel)) }
  } catch (error) {
    return { problem: problem('RBT_ERR_VALIDATE_SETUP_FAILED', name, `it threw: ${message(error)}`) }
  }
}

async function loadWorker(workerPath: string | null): Promise<{ module?: Record<string, unknown>; error?: string }> {
  if (workerPath === null) return {}
  try {
    return { module: await import(pathToFileURL(workerPath).href) }
  } catch (error) {
    return { error: `the worker module does not load: ${message(error)}` }
  }
}

/** The kernel's problem as the CLI reports it: what setup returned is a setup failure, the rest invalid parts. */
function reported(name: string, found: SkillPartProblem): Problem {
  if (found.part === 'setup') return problem('RBT_ERR_VALIDATE_SETUP_FAILED', name, `it ${found.message}`)
  return problem('RBT_ERR_VALIDATE_TOOL_INVALID', name, found.part, found.message)
}

/** Why a tool's examples cannot be run (validate runs them; the kernel never does), or null. */
function examplesProblem(tool: Loose): string | null {
  if (tool.examples === undefined) return null
  if (!Array.isArray(tool.examples)) return 'examples must be an array'
  const index = tool.examples.findIndex((example: Loose | undefined) => typeof example?.arguments !== 'object' || example.arguments === null || Array.isArray(example.arguments))
  return index < 0 ? null : `example ${index + 1} needs an arguments object`
}

/**
 * Checks what a skill's setup returned as the kernel will when it builds an agent, that each tool's parameters
 * compile, and that each worker tool's export is a function of the manifest's worker module. Answers the tools
 * that passed, for `runExamples`.
 */
export async function checkParts(name: string, parts: unknown, workerPath: string | null, kernelPermissions: readonly string[] = []): Promise<{ problems: Problem[]; tools: CheckedTool[]; worker?: Record<string, unknown> }> {
  const ruled = skillPartsProblems(parts, { workerPath, kernelPermissions })
  const problems: Problem[] = []
  const tools: CheckedTool[] = []
  // verbose: a failing example's message quotes the value (`arguments.n must be integer, got "two"`).
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true })
  addFormats(ajv)
  const worker = await loadWorker(workerPath)
  const list: Loose[] = Array.isArray((parts as Loose | null)?.tools) ? (parts as Loose).tools : []
  for (const [index, tool] of list.entries()) {
    const refused = ruled.filter((found) => found.toolIndex === index)
    if (refused.length > 0) {
      problems.push(...refused.map((found) => reported(name, found)))
      continue
    }
    const examples = examplesProblem(tool)
    if (examples) {
      problems.push(problem('RBT_ERR_VALIDATE_TOOL_INVALID', name, `tool ${tool.name}`, examples))
      continue
    }
    let validate: CheckedTool['validate']
    try {
      validate = ajv.compile(tool.parameters ?? { type: 'object', properties: {} })
    } catch (error) {
      problems.push(problem('RBT_ERR_VALIDATE_TOOL_SCHEMA_INVALID', name, tool.name, message(error)))
      continue
    }
    if (tool.worker !== undefined) {
      const missing = worker.error ?? (typeof worker.module?.[tool.worker] === 'function' ? null : `the worker module ${workerPath} has no exported function '${tool.worker}'`)
      if (missing) {
        problems.push(problem('RBT_ERR_VALIDATE_WORKER_EXPORT_MISSING', name, tool.name, missing))
        continue
      }
    }
    tools.push({ name: tool.name, run: tool.run, worker: tool.worker, timeoutMs: tool.timeoutMs, examples: tool.examples ?? [], validate })
  }
  problems.push(...ruled.filter((found) => found.toolIndex === undefined).map((found) => reported(name, found)))
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
