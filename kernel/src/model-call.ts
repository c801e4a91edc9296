// Calls an agent's model: the primary, then each fallback model, with events and sanitized errors.
import type { BuiltAgent } from './agent-build.js'
import { ERR_PROVIDER_FAILED, ERR_PROVIDER_TIMEOUT, isRobutlerError, type RobutlerError } from './errors.js'
import type { EventBus } from './events.js'
import type { ModelTarget } from './providers.js'
import type { ModelDelta, ModelRequest, ModelResponse, RequestContext } from './types.js'

export interface ModelCallDeps {
  events: EventBus
  onListenerError: (error: unknown) => void
}

const SECRETISH = /\b(sk|pk|rk|key|token|bearer)[-_ ]?[A-Za-z0-9_-]{8,}/gi

/** A provider error as the client may see it: status-mapped, short, with anything key-like removed. */
export function sanitizeProviderError(error: unknown, target: ModelTarget): RobutlerError {
  if (isRobutlerError(error)) return error
  const e = error as { name?: string; message?: string; status?: number } | undefined
  if (e?.name === 'TimeoutError' || e?.name === 'APIConnectionTimeoutError') return ERR_PROVIDER_TIMEOUT()
  const message = String(e?.message ?? error).replace(SECRETISH, '[redacted]').slice(0, 300)
  return ERR_PROVIDER_FAILED(`${target.id}: ${message}`)
}

function endEvent(ctx: RequestContext, agent: BuiltAgent, target: ModelTarget, stream: boolean, started: number, ttft: number | null, response: { usage?: ModelResponse['usage'] } | null, error: unknown) {
  return {
    requestId: ctx.id,
    agent: agent.name,
    provider: target.prefix,
    model: target.model,
    stream,
    durationMs: performance.now() - started,
    ttftMs: ttft,
    usage: response?.usage ?? null,
    error: error === null ? null : ((error as any)?.code ?? (error as any)?.name ?? 'error'),
  }
}

/** One whole model turn; each target is tried in order until one answers. */
export async function completeTurn(agent: BuiltAgent, ctx: RequestContext, request: ModelRequest, deps: ModelCallDeps): Promise<{ response: ModelResponse; target: ModelTarget }> {
  let lastError: unknown
  for (const target of agent.targets) {
    const started = performance.now()
    const listening = deps.events.has('llm:end')
    if (deps.events.has('llm:start')) {
      deps.events.emit('llm:start', { requestId: ctx.id, agent: agent.name, provider: target.prefix, model: target.model, stream: false }, deps.onListenerError)
    }
    try {
      request.model = target.model
      const response = await target.provider.complete(request, { signal: ctx.signal })
      if (listening) deps.events.emit('llm:end', endEvent(ctx, agent, target, false, started, null, response, null), deps.onListenerError)
      return { response, target }
    } catch (error) {
      if (listening) deps.events.emit('llm:end', endEvent(ctx, agent, target, false, started, null, null, error), deps.onListenerError)
      if (ctx.signal.aborted) throw ctx.signal.reason
      lastError = sanitizeProviderError(error, target)
      ctx.log.warn({ model: target.id, err: lastError }, 'model call failed')
    }
  }
  throw lastError
}

/**
 * One streamed model turn. Targets are tried in order until one yields its first delta; after that an error
 * ends the stream (the client has output already, so nothing is retried).
 */
export async function* streamTurn(agent: BuiltAgent, ctx: RequestContext, request: ModelRequest, deps: ModelCallDeps): AsyncGenerator<ModelDelta, ModelTarget> {
  let lastError: unknown
  for (const target of agent.targets) {
    const started = performance.now()
    let ttft: number | null = null
    let usage: ModelResponse['usage'] | undefined
    if (deps.events.has('llm:start')) {
      deps.events.emit('llm:start', { requestId: ctx.id, agent: agent.name, provider: target.prefix, model: target.model, stream: true }, deps.onListenerError)
    }
    try {
      request.model = target.model
      for await (const delta of target.provider.stream(request, { signal: ctx.signal })) {
        if (ttft === null) ttft = performance.now() - started
        if (delta.usage) usage = delta.usage
        yield delta
      }
      deps.events.emit('llm:end', endEvent(ctx, agent, target, true, started, ttft, { usage }, null), deps.onListenerError)
      return target
    } catch (error) {
      deps.events.emit('llm:end', endEvent(ctx, agent, target, true, started, ttft, { usage }, error), deps.onListenerError)
      if (ctx.signal.aborted) throw ctx.signal.reason
      const sanitized = sanitizeProviderError(error, target)
      if (ttft !== null) throw sanitized
      lastError = sanitized
      ctx.log.warn({ model: target.id, err: sanitized }, 'model stream failed')
    }
  }
  throw lastError
}
