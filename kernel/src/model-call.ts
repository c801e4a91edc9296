// Calls an agent's model — the one retry and fallback layer (provider SDKs run with retries off):
// each target (the model, then fallbackModels in order) gets retries with exponential backoff and jitter on
// 429, 5xx and connection errors, honouring Retry-After; a per-call timer turns a stalled upstream into 504.
// A stream is never retried once a delta has come out of it.
import { setTimeout as sleep } from 'node:timers/promises'
import type { BuiltAgent } from './agent-build.js'
import type { EventBus } from './events.js'
import { classify, ProviderTimeoutError, publicProviderError } from './provider-errors.js'
import type { ModelTarget } from './providers.js'
import { LazyAbort } from './lazy-abort.js'
import type { Context } from './request-context.js'
import type { ModelDelta, ModelRequest, ModelResponse, Usage } from './types.js'

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

function emitStart(deps: ModelCallDeps, ctx: Context, agent: BuiltAgent, target: ModelTarget, stream: boolean): void {
  if (deps.events.has('llm:start')) {
    deps.events.emit('llm:start', { requestId: ctx.id, agent: agent.name, provider: target.prefix, model: target.model, stream })
  }
}

function emitEnd(deps: ModelCallDeps, ctx: Context, agent: BuiltAgent, target: ModelTarget, stream: boolean, started: number, ttft: number | null, usage: Usage | undefined, error: unknown): void {
  if (!deps.events.has('llm:end')) return
  deps.events.emit(
    'llm:end',
    {
      requestId: ctx.id,
      agent: agent.name,
      provider: target.prefix,
      model: target.model,
      stream,
      durationMs: performance.now() - started,
      ttftMs: ttft,
      usage: usage ?? null,
      error: error === null ? null : ctx.aborted ? 'aborted' : classify(error).kind,
    }
  )
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

/** One whole model turn. */
export async function completeTurn(agent: BuiltAgent, ctx: Context, request: ModelRequest, deps: ModelCallDeps): Promise<{ response: ModelResponse; target: ModelTarget }> {
  let lastError: unknown
  let lastTarget = agent.targets[0]!
  for (const target of agent.targets) {
    for (let attempt = 0; ; attempt++) {
      const started = performance.now()
      emitStart(deps, ctx, agent, target, false)
      const call = new CallSignal(ctx, deps.retry.timeoutMs)
      let error: unknown
      try {
        request.model = target.model
        const response = await target.provider.complete(request, call)
        emitEnd(deps, ctx, agent, target, false, started, null, response.usage, null)
        return { response, target }
      } catch (thrown) {
        error = call.reason(thrown)
      } finally {
        call.done()
      }
      emitEnd(deps, ctx, agent, target, false, started, null, undefined, error)
      if (ctx.aborted) throw ctx.abortReason
      lastError = error
      lastTarget = target
      const delay = retryDelay(ctx, target, attempt, error, deps.retry)
      if (delay === null) break
      await wait(delay, ctx)
    }
  }
  throw publicProviderError(lastError, lastTarget)
}

/** One streamed model turn; yields deltas, returns the target that answered. */
export async function* streamTurn(
  agent: BuiltAgent,
  ctx: Context,
  request: ModelRequest,
  deps: ModelCallDeps,
  answering: { target: ModelTarget | null },
): AsyncGenerator<ModelDelta, ModelTarget> {
  let lastError: unknown
  let lastTarget = agent.targets[0]!
  for (const target of agent.targets) {
    for (let attempt = 0; ; attempt++) {
      const started = performance.now()
      let ttft: number | null = null
      let usage: Usage | undefined
      emitStart(deps, ctx, agent, target, true)
      const call = new CallSignal(ctx, deps.retry.timeoutMs)
      let error: unknown
      answering.target = target
      try {
        request.model = target.model
        for await (const delta of target.provider.stream(request, call)) {
          call.reset()
          if (ttft === null) ttft = performance.now() - started
          if (delta.usage) usage = delta.usage
          yield delta
        }
        // Some SDK streams end quietly when their signal aborts: an aborted call did not finish.
        if (call.aborted) throw call.reason(new Error('the stream was aborted'))
        emitEnd(deps, ctx, agent, target, true, started, ttft, usage, null)
        return target
      } catch (thrown) {
        error = call.reason(thrown)
      } finally {
        call.done()
      }
      emitEnd(deps, ctx, agent, target, true, started, ttft, usage, error)
      if (ctx.aborted) throw ctx.abortReason
      // Output has gone on towards the client: a retry would repeat it.
      if (ttft !== null) throw publicProviderError(error, target)
      lastError = error
      lastTarget = target
      const delay = retryDelay(ctx, target, attempt, error, deps.retry)
      if (delay === null) break
      await wait(delay, ctx)
    }
  }
  throw publicProviderError(lastError, lastTarget)
}
