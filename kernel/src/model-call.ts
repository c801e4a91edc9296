// Calls an agent's model — the one retry and fallback layer, streamed and whole alike (provider SDKs run with
// retries off): each target (the model, then fallbackModels in order) gets retries with exponential backoff and
// jitter on 429, 5xx and connection errors, honouring Retry-After; a deadline turns a stalled upstream into 504.
// A call is never retried once a delta has come out of it.
import { setTimeout as sleep } from 'node:timers/promises'
import type { BuiltAgent } from './agent-build.js'
import type { EventBus } from './events.js'
import { classify, ProviderTimeoutError, publicProviderError } from './provider-errors.js'
import type { ModelTarget } from './providers.js'
import { LazyAbort } from './lazy-abort.js'
import type { Context } from './request-context.js'
import type { FinishReason, HeaderInjector, ModelDelta, ModelRequest, ModelResponse, ToolCall, Usage } from './types.js'

export interface RetryPolicy {
  /** Retries per target after the first attempt. */
  retries: number
  baseDelayMs: number
  maxDelayMs: number
  /** No answer (or, streaming, no next delta) within this long is a timeout. */
  timeoutMs: number
}

export interface ModelCallDeps {
  events: EventBus
  retry: RetryPolicy
  /** Write the request's context headers onto each call (kernel.propagation); empty: calls carry none. */
  propagators: HeaderInjector[]
}

/**
 * One attempt's call options: a lazy abort fired by the request's abort (Context.abort passes it on to
 * Context.call) or by its deadline, which a stream pushes back on every delta. The deadline is checked by the
 * kernel's sweep, not by a timer per call: a setTimeout per call cost the hot path more than the sweep costs.
 */
class CallSignal extends LazyAbort {
  readonly #ctx: Context
  readonly #ms: number
  /** Date.now() past which the call has timed out. */
  deadline: number
  /** CallOptions.headers: set only when a propagator is added. */
  headers?: Record<string, string>

  constructor(ctx: Context, ms: number) {
    super()
    this.#ctx = ctx
    this.#ms = ms
    this.deadline = Date.now() + ms
    ctx.call = this
    if (ctx.aborted) this.abort(ctx.abortReason)
  }

  /** The error to judge: our timeout when the deadline passed (the SDK then throws a plain abort error). */
  reason(error: unknown): unknown {
    return this.abortReason instanceof ProviderTimeoutError ? this.abortReason : error
  }

  reset(): void {
    this.deadline = Date.now() + this.#ms
  }

  timeOut(): void {
    this.abort(new ProviderTimeoutError(this.#ms))
  }

  done(): void {
    if (this.#ctx.call === this) this.#ctx.call = null
  }
}

/** Which call of the loop an attempt is: its target (0 the model, then fallbacks) and its try of that target. */
interface Attempt {
  target: ModelTarget
  fallback: number
  attempt: number
  stream: boolean
  started: number
}

function emitStart(deps: ModelCallDeps, ctx: Context, agent: BuiltAgent, a: Attempt, request: ModelRequest): void {
  if (!deps.events.has('llm:start')) return
  deps.events.emit('llm:start', {
    requestId: ctx.id,
    agent: agent.name,
    provider: a.target.prefix,
    model: a.target.model,
    stream: a.stream,
    fallback: a.fallback,
    attempt: a.attempt,
    request,
  })
}

/** What a call answered, for llm:end: a streamed one's text added up as it came. */
interface Outcome {
  ttft: number | null
  usage: Usage | undefined
  finish: FinishReason | null
  content: string
  toolCalls: ToolCall[] | undefined
}

function emitEnd(deps: ModelCallDeps, ctx: Context, agent: BuiltAgent, a: Attempt, o: Outcome, error: unknown): void {
  if (!deps.events.has('llm:end')) return
  deps.events.emit('llm:end', {
    requestId: ctx.id,
    agent: agent.name,
    userId: ctx.identity?.userId ?? null,
    keyId: ctx.identity?.keyId ?? null,
    surface: ctx.surface,
    provider: a.target.prefix,
    model: a.target.model,
    stream: a.stream,
    fallback: a.fallback,
    attempt: a.attempt,
    durationMs: performance.now() - a.started,
    ttftMs: o.ttft,
    usage: o.usage ?? null,
    error: error === null ? null : ctx.aborted ? 'aborted' : classify(error).kind,
    finishReason: error === null ? o.finish : null,
    output: error === null ? { content: o.content || null, toolCalls: o.toolCalls } : null,
  })
}

/**
 * After a failed attempt: logs it and answers the milliseconds to wait before the next attempt on the same
 * target, or null when no retry should happen (not retryable, retries used up, or past the request's deadline).
 */
function retryDelay(ctx: Context, target: ModelTarget, attempt: number, error: unknown, policy: RetryPolicy): number | null {
  const c = classify(error)
  let delay: number | null = null
  if (c.retryable && attempt < policy.retries) {
    const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt) * (0.5 + Math.random() * 0.5)
    delay = c.retryAfterMs ?? backoff
    if (Date.now() + delay >= ctx.deadline) delay = null
  }
  ctx.log.warn({ model: target.id, attempt: attempt + 1, kind: c.kind, status: c.status, retryInMs: delay === null ? undefined : Math.round(delay) }, 'model call failed')
  return delay
}

async function wait(ms: number, ctx: Context): Promise<void> {
  try {
    await sleep(ms, undefined, { signal: ctx.signal })
  } catch {
    throw ctx.abortReason
  }
}

/** A whole answer as the one delta a stream of it would add up to. */
function wholeDelta(response: ModelResponse): ModelDelta {
  const { message } = response
  const delta: ModelDelta = { finish_reason: response.finish_reason }
  if (response.stop_sequence !== undefined) delta.stop_sequence = response.stop_sequence
  if (message.content) delta.content = message.content
  if (message.refusal) delta.refusal = message.refusal
  if (message.reasoning) delta.reasoning = message.reasoning
  if (message.tool_calls && message.tool_calls.length > 0) {
    delta.tool_calls = message.tool_calls.map((call, index) => ({ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: call.function.arguments } }))
  }
  if (response.usage) delta.usage = response.usage
  return delta
}

/**
 * One model call of the loop, streamed or whole: yields its deltas (a whole answer as one delta) while
 * `answering.target` names the model being tried. Each target gets its retries, then the next fallback; a call
 * is never retried once a delta came out of it (output may have reached the client).
 */
export async function* callModel(
  agent: BuiltAgent,
  ctx: Context,
  request: ModelRequest,
  deps: ModelCallDeps,
  stream: boolean,
  answering: { target: ModelTarget },
): AsyncGenerator<ModelDelta, void> {
  let lastError: unknown
  let lastTarget = agent.targets[0]!
  for (let fallback = 0; fallback < agent.targets.length; fallback++) {
    const target = agent.targets[fallback]!
    for (let attempt = 0; ; attempt++) {
      const a: Attempt = { target, fallback, attempt, stream, started: performance.now() }
      const o: Outcome = { ttft: null, usage: undefined, finish: null, content: '', toolCalls: undefined }
      // The answer's text is added up for llm:end's listeners only: without one, a stream holds no copy of it.
      const keepText = deps.events.has('llm:end')
      let yielded = false
      request.model = target.model
      emitStart(deps, ctx, agent, a, request)
      const call = new CallSignal(ctx, deps.retry.timeoutMs)
      if (deps.propagators.length > 0) {
        call.headers = {}
        for (const inject of deps.propagators) inject(ctx.id, call.headers)
      }
      let error: unknown
      // Whether llm:end went out (or will, for a failure): a loop that stops reading (its client left) ends this
      // generator at its yield, and the call must still be reported, as aborted.
      let reported = false
      answering.target = target
      try {
        if (stream) {
          for await (const delta of target.provider.stream(request, call)) {
            call.reset()
            if (o.ttft === null) o.ttft = performance.now() - a.started
            if (delta.usage) o.usage = delta.usage
            if (keepText && delta.content) o.content += delta.content
            if (delta.finish_reason) o.finish = delta.finish_reason
            yielded = true
            yield delta
          }
          // Some SDK streams end quietly when their signal aborts: an aborted call did not finish.
          if (call.aborted) throw call.reason(new Error('the stream was aborted'))
        } else {
          const response = await target.provider.complete(request, call)
          call.done()
          o.usage = response.usage
          o.finish = response.finish_reason
          o.content = response.message.content ?? ''
          o.toolCalls = response.message.tool_calls
          reported = true
          emitEnd(deps, ctx, agent, a, o, null)
          yielded = true
          yield wholeDelta(response)
          return
        }
        reported = true
        emitEnd(deps, ctx, agent, a, o, null)
        return
      } catch (thrown) {
        error = call.reason(thrown)
        reported = true
      } finally {
        call.done()
        if (!reported) emitEnd(deps, ctx, agent, a, o, ctx.aborted ? ctx.abortReason : new Error('the call was abandoned'))
      }
      emitEnd(deps, ctx, agent, a, o, error)
      if (ctx.aborted) throw ctx.abortReason
      if (yielded) throw publicProviderError(error, target)
      lastError = error
      lastTarget = target
      const delay = retryDelay(ctx, target, attempt, error, deps.retry)
      if (delay === null) break
      await wait(delay, ctx)
    }
  }
  throw publicProviderError(lastError, lastTarget)
}
