// One trace per sampled request, built from the kernel's events: the HTTP server span, `invoke_agent {agent}`
// around the loop, `chat {model}` per model call attempt (each retry and fallback its own span), `execute_tool
// {tool}` per tool call. Spans are parented explicitly (no AsyncLocalStorage context manager: it costs every
// request throughput); each request's spans live in one record, found by request id, until its last span ends.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import type { KernelEventMap, KernelEvents, SamplingParams } from '@robutler/kernel'
import type { FastifyRequest } from 'fastify'
import * as A from './attributes.js'
import { inputAttributes, outputAttribute, redactJsonText, redactText, truncate } from './content.js'

interface RequestTrace {
  request: FastifyRequest
  /** The protocol surface of its route, when it has one. */
  surface: string | undefined
  http: Span
  httpContext: Context
  run: Span | null
  runContext: Context | null
  /** The model call attempt in progress (one at a time per request). */
  chat: Span | null
  tools: Map<string, Span> | null
  httpEnded: boolean
}

export interface TraceOptions {
  captureContent: boolean
  maxContentBytes: number
}

const w3c = new W3CTraceContextPropagator()
const headerGetter = {
  keys: (carrier: FastifyRequest['headers']) => Object.keys(carrier),
  get: (carrier: FastifyRequest['headers'], key: string) => carrier[key],
}

/** The protocol surface a route belongs to, from its path. */
export function surfaceOf(route: string | undefined): string | undefined {
  if (route === undefined) return undefined
  if (route.endsWith('/chat/completions')) return 'chat_completions'
  if (route.includes('/responses')) return 'responses'
  if (route.includes('/v1/messages')) return 'messages'
  if (route.endsWith('/mcp')) return 'mcp'
  return undefined
}

function samplingAttributes(params: SamplingParams, out: Attributes): void {
  if (typeof params.temperature === 'number') out[A.ATTR_GEN_AI_REQUEST_TEMPERATURE] = params.temperature
  if (typeof params.top_p === 'number') out[A.ATTR_GEN_AI_REQUEST_TOP_P] = params.top_p
  if (typeof params.top_k === 'number') out[A.ATTR_GEN_AI_REQUEST_TOP_K] = params.top_k
  const max = params.max_completion_tokens ?? params.max_tokens
  if (typeof max === 'number') out[A.ATTR_GEN_AI_REQUEST_MAX_TOKENS] = max
  if (typeof params.frequency_penalty === 'number') out[A.ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY] = params.frequency_penalty
  if (typeof params.presence_penalty === 'number') out[A.ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY] = params.presence_penalty
  if (typeof params.seed === 'number') out[A.ATTR_GEN_AI_REQUEST_SEED] = params.seed
  if (typeof params.stop === 'string') out[A.ATTR_GEN_AI_REQUEST_STOP_SEQUENCES] = [params.stop]
  else if (Array.isArray(params.stop)) out[A.ATTR_GEN_AI_REQUEST_STOP_SEQUENCES] = params.stop.filter((s): s is string => typeof s === 'string')
}

function fail(span: Span, type: string, message?: string): void {
  span.setAttribute(A.ATTR_ERROR_TYPE, type)
  span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? type })
}

const DISCONNECTED = 'the client closed the connection'

export class RequestTraces {
  readonly #tracer: Tracer
  readonly #options: TraceOptions
  readonly #traces = new Map<string, RequestTrace>()
  readonly #listeners: Array<[keyof KernelEventMap, (payload: any) => void]>

  constructor(tracer: Tracer, options: TraceOptions) {
    this.#tracer = tracer
    this.#options = options
    this.#listeners = [
      ['request:end', (e) => this.#requestEnd(e)],
      ['run:start', (e) => this.#runStart(e)],
      ['run:end', (e) => this.#runEnd(e)],
      ['llm:start', (e) => this.#llmStart(e)],
      ['llm:end', (e) => this.#llmEnd(e)],
      ['tool:start', (e) => this.#toolStart(e)],
      ['tool:end', (e) => this.#toolEnd(e)],
    ]
  }

  /** Requests with spans still open. */
  get open(): number {
    return this.#traces.size
  }

  listen(events: KernelEvents): void {
    for (const [name, fn] of this.#listeners) events.on(name, fn)
  }

  unlisten(events: KernelEvents): void {
    for (const [name, fn] of this.#listeners) events.off(name, fn)
  }

  /** Starts the request's server span (continuing the client's trace when it sent a traceparent). */
  start(request: FastifyRequest): void {
    const parent = request.headers.traceparent === undefined ? ROOT_CONTEXT : w3c.extract(ROOT_CONTEXT, request.headers, headerGetter)
    // Named and described only once it is sampled: an unsampled request (most, at a low ratio) pays for no more.
    const http = this.#tracer.startSpan(request.method, { kind: SpanKind.SERVER }, parent)
    if (!http.isRecording()) return
    const route = request.routeOptions.url
    const surface = surfaceOf(route)
    http.setAttribute(A.ATTR_HTTP_REQUEST_METHOD, request.method)
    http.setAttribute(A.ATTR_URL_PATH, request.url.split('?', 1)[0]!)
    http.setAttribute(A.ATTR_ROBUTLER_REQUEST_ID, request.id)
    if (route !== undefined) {
      http.updateName(`${request.method} ${route}`)
      http.setAttribute(A.ATTR_HTTP_ROUTE, route)
    }
    const httpContext = trace.setSpan(parent, http)
    this.#traces.set(request.id, { request, surface, http, httpContext, run: null, runContext: null, chat: null, tools: null, httpEnded: false })
    const ids = http.spanContext()
    request.log = request.log.child({ trace_id: ids.traceId, span_id: ids.spanId })
  }

  /** A request whose client left and that the kernel does not end itself (no agent behind it). */
  abandoned(request: FastifyRequest): void {
    const t = this.#traces.get(request.id)
    if (t === undefined || t.httpEnded) return
    this.#requestEnd({ requestId: request.id, method: request.method, route: request.routeOptions.url ?? 'unknown', status: 0, agent: null, durationMs: 0, aborted: true, error: null })
  }

  /** Writes the traceparent (and tracestate) of the span an outgoing call belongs to: a tool call's, or the model call's. */
  inject(requestId: string, headers: Record<string, string>, toolCallId?: string): void {
    const t = this.#traces.get(requestId)
    if (t === undefined) return
    const span = (toolCallId === undefined ? undefined : t.tools?.get(toolCallId)) ?? t.chat ?? t.run ?? t.http
    w3c.inject(trace.setSpan(ROOT_CONTEXT, span), headers, { set: (carrier, key, value) => void (carrier[key] = value) })
  }

  #requestEnd(e: KernelEventMap['request:end']): void {
    const t = this.#traces.get(e.requestId)
    if (t === undefined || t.httpEnded) return
    const span = t.http
    // No status when the client left before any was sent.
    if (e.status > 0) span.setAttribute(A.ATTR_HTTP_RESPONSE_STATUS_CODE, e.status)
    if (e.aborted) {
      fail(span, 'client_closed', DISCONNECTED)
      this.#endChildren(t)
    } else if (e.status >= 500) fail(span, e.error ?? String(e.status))
    else if (e.error !== null) span.setAttribute(A.ATTR_ERROR_TYPE, e.error)
    span.end()
    t.httpEnded = true
    if (t.run === null && t.chat === null && t.tools === null) this.#traces.delete(e.requestId)
  }

  /** Ends what is still open of a request whose client left: each with an error status. */
  #endChildren(t: RequestTrace): void {
    if (t.chat !== null) {
      fail(t.chat, 'aborted', DISCONNECTED)
      t.chat.end()
      t.chat = null
    }
    if (t.tools !== null) {
      for (const span of t.tools.values()) {
        fail(span, 'aborted', DISCONNECTED)
        span.end()
      }
      t.tools = null
    }
    if (t.run !== null) {
      fail(t.run, 'aborted', DISCONNECTED)
      t.run.end()
      t.run = null
      t.runContext = null
    }
  }

  #release(t: RequestTrace, requestId: string): void {
    if (t.httpEnded && t.run === null && t.chat === null && t.tools === null) this.#traces.delete(requestId)
  }

  #runStart(e: KernelEventMap['run:start']): void {
    const t = this.#traces.get(e.requestId)
    if (t === undefined || t.httpEnded) return
    const attributes: Attributes = {
      [A.ATTR_GEN_AI_OPERATION_NAME]: 'invoke_agent',
      [A.ATTR_GEN_AI_AGENT_NAME]: e.agent,
    }
    if (t.surface !== undefined) attributes[A.ATTR_ROBUTLER_SURFACE] = t.surface
    if (e.userId !== null) attributes[A.ATTR_USER_ID] = e.userId
    t.run = this.#tracer.startSpan(`invoke_agent ${e.agent}`, { kind: SpanKind.INTERNAL, attributes }, t.httpContext)
    t.runContext = trace.setSpan(t.httpContext, t.run)
  }

  #runEnd(e: KernelEventMap['run:end']): void {
    const t = this.#traces.get(e.requestId)
    if (t === undefined || t.run === null) return
    const span = t.run
    span.setAttribute(A.ATTR_GEN_AI_USAGE_INPUT_TOKENS, e.usage.prompt_tokens)
    span.setAttribute(A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, e.usage.completion_tokens)
    if (e.model !== null) span.setAttribute(A.ATTR_GEN_AI_RESPONSE_MODEL, e.model)
    if (e.finishReason !== null) span.setAttribute(A.ATTR_GEN_AI_RESPONSE_FINISH_REASONS, [e.finishReason])
    if (e.error !== null) fail(span, e.error)
    if (this.#options.captureContent && e.output !== null) {
      span.setAttribute(A.ATTR_GEN_AI_OUTPUT_MESSAGES, outputAttribute(e.output.content, e.output.tool_calls, e.finishReason, this.#options.maxContentBytes))
    }
    span.end()
    t.run = null
    t.runContext = null
    this.#release(t, e.requestId)
  }

  #llmStart(e: KernelEventMap['llm:start']): void {
    const t = this.#traces.get(e.requestId)
    if (t === undefined || t.httpEnded) return
    const attributes: Attributes = {
      [A.ATTR_GEN_AI_OPERATION_NAME]: 'chat',
      [A.ATTR_GEN_AI_PROVIDER_NAME]: e.provider,
      [A.ATTR_GEN_AI_REQUEST_MODEL]: e.model,
      [A.ATTR_GEN_AI_REQUEST_STREAM]: e.stream,
      [A.ATTR_ROBUTLER_FALLBACK]: e.fallback,
      [A.ATTR_ROBUTLER_ATTEMPT]: e.attempt,
    }
    samplingAttributes(e.request.params, attributes)
    if (this.#options.captureContent) {
      const { system, input } = inputAttributes(e.request.messages, this.#options.maxContentBytes)
      if (system !== undefined) attributes[A.ATTR_GEN_AI_SYSTEM_INSTRUCTIONS] = system
      attributes[A.ATTR_GEN_AI_INPUT_MESSAGES] = input
    }
    // A call still open here was abandoned without its end (it cannot be: one call at a time); never leave it open.
    t.chat?.end()
    t.chat = this.#tracer.startSpan(`chat ${e.model}`, { kind: SpanKind.CLIENT, attributes }, t.runContext ?? t.httpContext)
  }

  #llmEnd(e: KernelEventMap['llm:end']): void {
    const t = this.#traces.get(e.requestId)
    if (t === undefined || t.chat === null) return
    const span = t.chat
    if (e.usage !== null) {
      span.setAttribute(A.ATTR_GEN_AI_USAGE_INPUT_TOKENS, e.usage.prompt_tokens)
      span.setAttribute(A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, e.usage.completion_tokens)
    }
    if (e.ttftMs !== null) span.setAttribute(A.ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, e.ttftMs / 1000)
    if (e.error !== null) fail(span, e.error)
    else {
      // The model string that answered: providers do not pass on the upstream's own name for it.
      span.setAttribute(A.ATTR_GEN_AI_RESPONSE_MODEL, e.model)
      if (e.finishReason !== null) span.setAttribute(A.ATTR_GEN_AI_RESPONSE_FINISH_REASONS, [e.finishReason])
      if (this.#options.captureContent && e.output !== null) {
        span.setAttribute(A.ATTR_GEN_AI_OUTPUT_MESSAGES, outputAttribute(e.output.content, e.output.toolCalls, e.finishReason, this.#options.maxContentBytes))
      }
    }
    span.end()
    t.chat = null
    this.#release(t, e.requestId)
  }

  #toolStart(e: KernelEventMap['tool:start']): void {
    const t = this.#traces.get(e.requestId)
    if (t === undefined || t.httpEnded) return
    const attributes: Attributes = {
      [A.ATTR_GEN_AI_OPERATION_NAME]: 'execute_tool',
      [A.ATTR_GEN_AI_TOOL_NAME]: e.tool,
      [A.ATTR_GEN_AI_TOOL_CALL_ID]: e.callId,
      [A.ATTR_GEN_AI_TOOL_TYPE]: e.kind === 'mcp' ? 'extension' : 'function',
      [A.ATTR_ROBUTLER_TOOL_KIND]: e.kind,
    }
    if (e.skill !== null) attributes[A.ATTR_ROBUTLER_SKILL] = e.skill
    if (this.#options.captureContent) attributes[A.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS] = truncate(redactJsonText(e.arguments), this.#options.maxContentBytes)
    const span = this.#tracer.startSpan(`execute_tool ${e.tool}`, { kind: SpanKind.INTERNAL, attributes }, t.runContext ?? t.httpContext)
    ;(t.tools ??= new Map()).set(e.callId, span)
  }

  #toolEnd(e: KernelEventMap['tool:end']): void {
    const t = this.#traces.get(e.requestId)
    const span = t?.tools?.get(e.callId)
    if (t === undefined || span === undefined) return
    span.setAttribute(A.ATTR_ROBUTLER_TOOL_STATUS, e.status)
    if (e.error !== null) fail(span, e.error)
    if (this.#options.captureContent) span.setAttribute(A.ATTR_GEN_AI_TOOL_CALL_RESULT, truncate(redactText(e.result), this.#options.maxContentBytes))
    span.end()
    t.tools!.delete(e.callId)
    if (t.tools!.size === 0) t.tools = null
    this.#release(t, e.requestId)
  }
}
