// Runs the internal tool calls of one model turn. A failing, invalid or refused call becomes an error text for
// the model; only the request's own abort propagates.
import type { BuiltAgent, BuiltTool } from './agent-build.js'
import { scopeAllows } from './auth.js'
import {
  ERR_POOL_SATURATED,
  ERR_TOOL_ARGUMENTS_INVALID,
  ERR_TOOL_FAILED,
  ERR_TOOL_FORBIDDEN,
  ERR_TOOL_NOT_FOUND,
  ERR_TOOL_TIMEOUT,
  isRobutlerError,
  type RobutlerError,
} from './errors.js'
import type { EventBus } from './events.js'
import { overLimit, resultTooLarge } from './pool-worker.js'
import { runHooks } from './hooks.js'
import type { Context } from './request-context.js'
import type { HeaderInjector, ToolCall, ToolCallInfo, ToolKind, ToolResult, ToolRunContext } from './types.js'

/** Runs a pool-backed tool: `(tool, args, signal)` → its JSON result. */
export type WorkerRunner = (tool: BuiltTool, args: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>

export interface ToolDeps {
  events: EventBus
  runWorker: WorkerRunner
  /** The time limit of a tool call that sets no timeoutMs of its own. */
  toolTimeoutMs: number
  /** The largest tool result, in bytes of its text (a pool tool's is checked in its thread, before it crosses). */
  maxResultBytes: number
  /** kernel.propagation's injectors: an in-process tool's run gets their headers (ToolRunContext.propagation). */
  propagators: HeaderInjector[]
}

type Status = 'ok' | 'error' | 'invalid' | 'refused'

function errorText(error: RobutlerError): string {
  return JSON.stringify({ error: { code: error.code, message: error.message } })
}

function resultText(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === undefined) return ''
  return JSON.stringify(value)
}

function parseArguments(name: string, text: string): Record<string, unknown> | RobutlerError {
  if (text.trim() === '') return {}
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error: any) {
    return ERR_TOOL_ARGUMENTS_INVALID(name, `not valid JSON (${error.message})`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return ERR_TOOL_ARGUMENTS_INVALID(name, 'arguments must be a JSON object')
  return value as Record<string, unknown>
}

/**
 * Runs a tool with a signal that fires on the request's abort or after `ms`. A timer and a listener, both gone
 * when the call ends: AbortSignal.timeout() keeps its timer (and what it holds) for the whole `ms` whether the
 * call took a millisecond or not, and a soak held thousands of them.
 */
async function withTimeout<T>(name: string, ms: number | undefined, signal: AbortSignal, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (!ms) return run(signal)
  if (signal.aborted) throw signal.reason
  const controller = new AbortController()
  const onAbort = () => controller.abort(signal.reason)
  const timer = setTimeout(() => controller.abort(new DOMException(`tool '${name}' timed out`, 'TimeoutError')), ms)
  signal.addEventListener('abort', onAbort, { once: true })
  return new Promise<T>((resolve, reject) => {
    const onStop = () => reject(signal.aborted ? signal.reason : ERR_TOOL_TIMEOUT(name, ms))
    controller.signal.addEventListener('abort', onStop, { once: true })
    run(controller.signal)
      .then(resolve, reject)
      .finally(() => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
      })
  })
}

interface Outcome {
  result: ToolResult
  status: Status
  /** The RBT_ERR_* code of a call that did not succeed. */
  code?: string
}

function refused(error: RobutlerError, status: Status): Outcome {
  return { result: { content: errorText(error), error: true }, status, code: error.code }
}

function kindOf(tool: BuiltTool | undefined): ToolKind {
  if (tool?.worker) return 'worker'
  return tool?.remote ?? 'inline'
}

function runContext(ctx: Context, signal: AbortSignal, callId: string, deps: ToolDeps): ToolRunContext {
  if (deps.propagators.length === 0) return { signal, context: ctx, log: ctx.log }
  const propagation: Record<string, string> = {}
  for (const inject of deps.propagators) inject(ctx.id, propagation, callId)
  return { signal, context: ctx, log: ctx.log, propagation }
}

async function execute(agent: BuiltAgent, ctx: Context, call: ToolCall, deps: ToolDeps): Promise<Outcome> {
  const name = call.function.name
  const tool = agent.tools.get(name)
  if (!tool) return refused(ERR_TOOL_NOT_FOUND(name), 'invalid')
  // Checked again here, not only when offered: a model may name a tool it was never shown.
  if (!scopeAllows(ctx.scope, tool.scope)) {
    return refused(ERR_TOOL_FORBIDDEN(name, tool.scope, ctx.scope), 'refused')
  }
  const args = parseArguments(name, call.function.arguments ?? '')
  if (isRobutlerError(args)) return refused(args, 'invalid')
  const invalid = tool.validate(args)
  if (invalid) return refused(ERR_TOOL_ARGUMENTS_INVALID(name, invalid), 'invalid')

  const info: ToolCallInfo = { id: call.id, name, arguments: args, skill: tool.skill }
  let result: ToolResult
  let status: Status = 'ok'
  let code: string | undefined
  try {
    if (agent.hooks.beforeToolCall.length > 0) await runHooks(agent.hooks.beforeToolCall, ctx, info)
  } catch (error: any) {
    return refused(ERR_TOOL_FORBIDDEN(name, tool.scope, `${ctx.scope} (refused: ${error?.message ?? error})`), 'refused')
  }
  try {
    const value = await withTimeout(name, tool.timeoutMs ?? deps.toolTimeoutMs, ctx.signal, (signal) =>
      tool.run ? Promise.resolve(tool.run(args, runContext(ctx, signal, call.id, deps))) : deps.runWorker(tool, args, signal),
    )
    const content = resultText(value)
    const bytes = overLimit(content, deps.maxResultBytes)
    if (bytes !== null) throw new Error(resultTooLarge(bytes, deps.maxResultBytes))
    result = { content }
  } catch (error: any) {
    if (ctx.aborted) throw ctx.abortReason
    // A full pool is back-pressure for the whole request (503), not a tool failure for the model to read.
    if (isRobutlerError(error) && error.code === ERR_POOL_SATURATED.code) throw error
    status = 'error'
    const wrapped = isRobutlerError(error) ? error : ERR_TOOL_FAILED(name, error?.message ?? String(error))
    ctx.log.warn({ tool: name, skill: tool.skill, code: wrapped.code, err: error }, 'tool call failed')
    result = { content: errorText(wrapped), error: true }
    code = wrapped.code
  }
  if (agent.hooks.afterToolCall.length > 0) await runHooks(agent.hooks.afterToolCall, ctx, info, result)
  return { result, status, code }
}

/** Runs the calls side by side and answers one result per call, in call order. */
export async function runToolCalls(agent: BuiltAgent, ctx: Context, calls: ToolCall[], deps: ToolDeps): Promise<ToolResult[]> {
  return Promise.all(
    calls.map(async (call) => {
      const started = performance.now()
      const tool = agent.tools.get(call.function.name)
      const skill = tool?.skill ?? null
      const kind = kindOf(tool)
      const name = call.function.name
      if (deps.events.has('tool:start')) {
        deps.events.emit('tool:start', { requestId: ctx.id, agent: agent.name, skill, tool: name, callId: call.id, kind, arguments: call.function.arguments ?? '' })
      }
      const { result, status, code } = await execute(agent, ctx, call, deps)
      if (deps.events.has('tool:end')) {
        const durationMs = performance.now() - started
        deps.events.emit('tool:end', { requestId: ctx.id, agent: agent.name, skill, tool: name, callId: call.id, kind, durationMs, status, error: code ?? null, result: result.content })
      }
      return result
    }),
  )
}
