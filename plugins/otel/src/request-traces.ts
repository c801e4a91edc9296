// One trace per sampled request, built from the kernel's events: the HTTP server span, `invoke_agent {agent}`
// around the loop, `chat {model}` per model call attempt (each retry and fallback its own span), `execute_tool
// {tool}` per tool call. The request thread decides sampling, picks ids (ids.ts: words, not text) and notes names,
// times and attributes; each span goes to the export thread's hand-over as it ends (export-thread.ts). Each
// request's open spans live in one record, found by request id, until its last span ends.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type AttributeValue } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import type { KernelEventMap, KernelEvents, SamplingParams } from '@robutler/kernel'
import type { FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import * as A from './attributes.js'
import { inputAttributes, outputAttribute, redactJsonText, redactText, truncate } from './content.js'
import { hexWord, randomLastWord, randomWord, wordAt, type Sampling } from './ids.js'
import type { Span, TraceWords } from './span-record.js'

/** Takes each span as it ends: its trace's id, and the client's tracestate with the root span of a continued trace. */
export type Finished = (trace: TraceWords, span: Span, traceState: string | undefined) => void

interface RequestTrace {
  words: TraceWords
  /** The client's tracestate, passed on. */
  traceState: string | undefined
  /** The trace id as text, for traceparent. */
  traceId: string
  /** The protocol surface of its route, when it has one. */
  surface: string | undefined
  http: Span
  /** The server span's id as text, for traceparent. */
  httpSpanId: string
  run: Span | null
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
const ORIGIN = performance.timeOrigin

/** Epoch milliseconds, sub-millisecond precise. */
function now(): number {
  return ORIGIN + performance.now()
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

function samplingAttributes(params: SamplingParams, out: Span['attributes']): void {
  if (typeof params.temperature === 'number') out.push(A.ATTR_GEN_AI_REQUEST_TEMPERATURE, params.temperature)
  if (typeof params.top_p === 'number') out.push(A.ATTR_GEN_AI_REQUEST_TOP_P, params.top_p)
  if (typeof params.top_k === 'number') out.push(A.ATTR_GEN_AI_REQUEST_TOP_K, params.top_k)
  const max = params.max_completion_tokens ?? params.max_tokens
  if (typeof max === 'number') out.push(A.ATTR_GEN_AI_REQUEST_MAX_TOKENS, max)
  if (typeof params.frequency_penalty === 'number') out.push(A.ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY, params.frequency_penalty)
  if (typeof params.presence_penalty === 'number') out.push(A.ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY, params.presence_penalty)
  if (typeof params.seed === 'number') out.push(A.ATTR_GEN_AI_REQUEST_SEED, params.seed)
  if (typeof params.stop === 'string') out.push(A.ATTR_GEN_AI_REQUEST_STOP_SEQUENCES, [params.stop])
  else if (Array.isArray(params.stop)) out.push(A.ATTR_GEN_AI_REQUEST_STOP_SEQUENCES, params.stop.filter((s): s is string => typeof s === 'string'))
}

/** An error status and type (once: the first failure is the span's). */
function fail(span: Span, type: string, message?: string): void {
  if (span.status === SpanStatusCode.ERROR) return
  span.attributes.push(A.ATTR_ERROR_TYPE, type)
  span.status = SpanStatusCode.ERROR
  span.message = message ?? type
}

function set(span: Span, name: string, value: AttributeValue): void {
  span.attributes.push(name, value)
}

/** The path of a request URL, without its query. */
function pathOf(url: string): string {
  const query = url.indexOf('?')
  return query < 0 ? url : url.slice(0, query)
}

const DISCONNECTED = 'the client closed the connection'
const MAX_NAMES = 1024
/** Where a sampled request's raw response keeps its Fastify request, for its 'close' listener. */
const REQUEST = Symbol('robutler.otel.request')
type Raw = ServerResponse & { [REQUEST]?: FastifyRequest }

export class RequestTraces {
  readonly #sampling: Sampling
  readonly #finished: Finished
  readonly #options: TraceOptions
  readonly #serverLog: unknown
  readonly #traces = new Map<string, RequestTrace>()
  readonly #reasonLists = new Map<string, string[]>()
  /** Span names by their suffix and prefix (#name). */
  readonly #names = new Map<string, Map<string, string>>()
  readonly #listeners: Array<[keyof KernelEventMap, (payload: any) => void]>
  /** The raw response's 'close' listener (one for all requests: the request is found on the response). */
  readonly #onClose: (this: Raw) => void

  /** `finished` takes each span as it ends (to the export thread). */
  constructor(sampling: Sampling, finished: Finished, options: TraceOptions, serverLog: unknown) {
    this.#sampling = sampling
    this.#serverLog = serverLog
    this.#finished = finished
    this.#options = options
    const traces = this
    this.#onClose = function onClose(this: Raw) {
      const request = this[REQUEST]
      if (!this.writableFinished && request !== undefined) traces.#abandoned(request, this.headersSent ? this.statusCode : 0)
    }
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

  /** Starts the request's server span (continuing the client's trace when it sent a traceparent), when sampled. */
  start(request: FastifyRequest, response: ServerResponse): void {
    let words: TraceWords
    let traceId: string | undefined
    let parentHi = 0
    let parentLo = 0
    let parentSampled: boolean | undefined
    let traceState: string | undefined
    const remote = request.headers.traceparent === undefined ? undefined : trace.getSpanContext(w3c.extract(ROOT_CONTEXT, request.headers, headerGetter))
    if (remote !== undefined && trace.isSpanContextValid(remote)) {
      traceId = remote.traceId
      words = [wordAt(traceId, 0), wordAt(traceId, 8), wordAt(traceId, 16), wordAt(traceId, 24)]
      parentHi = wordAt(remote.spanId, 0)
      parentLo = wordAt(remote.spanId, 8)
      parentSampled = (remote.traceFlags & TraceFlags.SAMPLED) !== 0
      traceState = remote.traceState?.serialize() || undefined
    } else words = [randomWord(), randomWord(), randomWord(), randomLastWord()]
    // Decided as the SDK's sampler of that name decides; an unsampled request pays for no more.
    if (!this.#sampling(words, parentSampled)) return
    traceId ??= hexWord(words[0]) + hexWord(words[1]) + hexWord(words[2]) + hexWord(words[3])
    const route = request.routeOptions.url
    const attributes: Span['attributes'] = [A.ATTR_HTTP_REQUEST_METHOD, request.method, A.ATTR_URL_PATH, pathOf(request.url), A.ATTR_ROBUTLER_REQUEST_ID, request.id]
    if (route !== undefined) attributes.push(A.ATTR_HTTP_ROUTE, route)
    const name = route === undefined ? request.method : this.#name(request.method, route)
    const http = this.#open(name, SpanKind.SERVER, parentHi, parentLo, attributes)
    const httpSpanId = hexWord(http.hi) + hexWord(http.lo)
    this.#traces.set(request.id, { words, traceState, traceId, surface: surfaceOf(route), http, httpSpanId, run: null, chat: null, tools: null, httpEnded: false })
    // Onto the request's own child logger (Fastify makes one per request): cheaper than a child of it.
    const bindings = { trace_id: traceId, span_id: httpSpanId }
    const log = request.log as FastifyRequest['log'] & { setBindings?: (bindings: Record<string, string>) => void }
    // Only on a logger of this request's own: never on the server's (no request logger is made without one).
    if (log !== this.#serverLog && typeof log.setBindings === 'function') log.setBindings(bindings)
    else request.log = request.log.child(bindings)
    // A client that leaves before the answer ends (a request the kernel does not end itself: no agent behind it yet)
    // ends its trace here. The response's 'close' says so (the request's comes once its body is read); a listener on
    // sampled requests only.
    ;(response as Raw)[REQUEST] = request
    response.on('close', this.#onClose)
  }

  /** A request whose client left: its server span ends (with the status when one went out), unless it has ended. */
  #abandoned(request: FastifyRequest, status: number): void {
    const t = this.#traces.get(request.id)
    if (t === undefined || t.httpEnded) return
    this.#requestEnd({ requestId: request.id, method: request.method, route: request.routeOptions.url ?? 'unknown', status, agent: null, durationMs: 0, aborted: true, error: null })
  }

  /** Writes the traceparent (and tracestate) of the span an outgoing call belongs to: a tool call's, or the model call's. */
  inject(requestId: string, headers: Record<string, string>, toolCallId?: string): void {
    const t = this.#traces.get(requestId)
    if (t === undefined) return
    const span = (toolCallId === undefined ? undefined : t.tools?.get(toolCallId)) ?? t.chat ?? t.run
    const spanId = span === undefined || span === null ? t.httpSpanId : hexWord(span.hi) + hexWord(span.lo)
    headers.traceparent = `00-${t.traceId}-${spanId}-01`
    if (t.traceState !== undefined) headers.tracestate = t.traceState
  }

  /**
   * `${prefix} ${suffix}`, made once: span names repeat (a route's, an agent's, a model's, a tool's), and the same
   * string each time is one the encoder has already encoded.
   */
  #name(prefix: string, suffix: string): string {
    let byPrefix = this.#names.get(suffix)
    if (byPrefix === undefined) {
      if (this.#names.size >= MAX_NAMES) return `${prefix} ${suffix}`
      this.#names.set(suffix, (byPrefix = new Map()))
    }
    let name = byPrefix.get(prefix)
    if (name === undefined) byPrefix.set(prefix, (name = `${prefix} ${suffix}`))
    return name
  }

  /** A finish reason as the attribute's list: one list per reason, which the encoder then finds already encoded. */
  #reasons(reason: string): string[] {
    let list = this.#reasonLists.get(reason)
    if (list === undefined) {
      list = [reason]
      if (this.#reasonLists.size < MAX_NAMES) this.#reasonLists.set(reason, list)
    }
    return list
  }

  #open(name: string, kind: SpanKind, parentHi: number, parentLo: number, attributes: Span['attributes']): Span {
    return { hi: randomWord(), lo: randomLastWord(), parentHi, parentLo, name, kind, start: now(), end: 0, attributes, status: SpanStatusCode.UNSET, message: undefined }
  }

  /** A child of the span a loop's spans hang from: its invoke_agent, or the request's own when no loop runs (an MCP tool call). */
  #openChild(t: RequestTrace, name: string, kind: SpanKind, attributes: Span['attributes']): Span {
    const parent = t.run ?? t.http
    return this.#open(name, kind, parent.hi, parent.lo, attributes)
  }

  #end(t: RequestTrace, span: Span): void {
    span.end = now()
    // The root's parent is the client's span: its tracestate goes with it.
    this.#finished(t.words, span, span === t.http ? t.traceState : undefined)
  }

  #requestEnd(e: KernelEventMap['request:end']): void {
    const t = this.#traces.get(e.requestId)
    if (t === undefined || t.httpEnded) return
    const span = t.http
    // No status when the client left before any was sent.
    if (e.status > 0) set(span, A.ATTR_HTTP_RESPONSE_STATUS_CODE, e.status)
    if (e.aborted) {
      fail(span, 'client_closed', DISCONNECTED)
      this.#endChildren(t)
    } else if (e.status >= 500) fail(span, e.error ?? String(e.status))
    else if (e.error !== null) set(span, A.ATTR_ERROR_TYPE, e.error)
    this.#end(t, span)
    t.httpEnded = true
    this.#release(t, e.requestId)
  }

  /** Ends what is still open of a request whose client left: each with an error status. */
  #endChildren(t: RequestTrace): void {
    if (t.chat !== null) {
      fail(t.chat, 'aborted', DISCONNECTED)
      this.#end(t, t.chat)
      t.chat = null
    }
    if (t.tools !== null) {
      for (const span of t.tools.values()) {
        fail(span, 'aborted', DISCONNECTED)
        this.#end(t, span)
      }
      t.tools = null
    }
    if (t.run !== null) {
      fail(t.run, 'aborted', DISCONNECTED)
      this.#end(t, t.run)
      t.run = null
    }
  }

  #release(t: RequestTrace, requestId: string): void {
    if (t.httpEnded && t.run === null && t.chat === null && t.tools === null) this.#traces.delete(requestId)
  }

  #runStart(e: KernelEventMap['run:start']): void {
    const t = this.#traces.get(e.requestId)
    if (t === undefined || t.httpEnded) return
    const attributes: Span['attributes'] = [A.ATTR_GEN_AI_OPERATION_NAME, 'invoke_agent', A.ATTR_GEN_AI_AGENT_NAME, e.agent]
    if (t.surface !== undefined) attributes.push(A.ATTR_ROBUTLER_SURFACE, t.surface)
    if (e.userId !== null) attributes.push(A.ATTR_USER_ID, e.userId)
    t.run = this.#open(this.#name('invoke_agent', e.agent), SpanKind.INTERNAL, t.http.hi, t.http.lo, attributes)
  }

  #runEnd(e: KernelEventMap['run:end']): void {
    const t = this.#traces.get(e.requestId)
    if (t === undefined || t.run === null) return
    const span = t.run
    const a = span.attributes
    a.push(A.ATTR_GEN_AI_USAGE_INPUT_TOKENS, e.usage.prompt_tokens, A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, e.usage.completion_tokens)
    if (e.model !== null) a.push(A.ATTR_GEN_AI_RESPONSE_MODEL, e.model)
    if (e.finishReason !== null) a.push(A.ATTR_GEN_AI_RESPONSE_FINISH_REASONS, this.#reasons(e.finishReason))
    if (e.error !== null) fail(span, e.error)
    if (this.#options.captureContent && e.output !== null) {
      a.push(A.ATTR_GEN_AI_OUTPUT_MESSAGES, outputAttribute(e.output.content, e.output.tool_calls, e.finishReason, this.#options.maxContentBytes))
    }
    this.#end(t, span)
    t.run = null
    this.#release(t, e.requestId)
  }

  #llmStart(e: KernelEventMap['llm:start']): void {
    const t = this.#traces.get(e.requestId)
    if (t === undefined || t.httpEnded) return
    const attributes: Span['attributes'] = [
      A.ATTR_GEN_AI_OPERATION_NAME, 'chat',
      A.ATTR_GEN_AI_PROVIDER_NAME, e.provider,
      A.ATTR_GEN_AI_REQUEST_MODEL, e.model,
      A.ATTR_GEN_AI_REQUEST_STREAM, e.stream,
      A.ATTR_ROBUTLER_FALLBACK, e.fallback,
      A.ATTR_ROBUTLER_ATTEMPT, e.attempt,
    ]
    samplingAttributes(e.request.params, attributes)
    if (this.#options.captureContent) {
      const { system, input } = inputAttributes(e.request.messages, this.#options.maxContentBytes)
      if (system !== undefined) attributes.push(A.ATTR_GEN_AI_SYSTEM_INSTRUCTIONS, system)
      attributes.push(A.ATTR_GEN_AI_INPUT_MESSAGES, input)
    }
    // A call still open here was abandoned without its end (it cannot be: one call at a time); never leave it open.
    if (t.chat !== null) this.#end(t, t.chat)
    t.chat = this.#openChild(t, this.#name('chat', e.model), SpanKind.CLIENT, attributes)
  }

  #llmEnd(e: KernelEventMap['llm:end']): void {
    const t = this.#traces.get(e.requestId)
    if (t === undefined || t.chat === null) return
    const span = t.chat
    const a = span.attributes
    if (e.usage !== null) a.push(A.ATTR_GEN_AI_USAGE_INPUT_TOKENS, e.usage.prompt_tokens, A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, e.usage.completion_tokens)
    if (e.ttftMs !== null) a.push(A.ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, e.ttftMs / 1000)
    if (e.error !== null) fail(span, e.error)
    else {
      // The model string that answered: providers do not pass on the upstream's own name for it.
      a.push(A.ATTR_GEN_AI_RESPONSE_MODEL, e.model)
      if (e.finishReason !== null) a.push(A.ATTR_GEN_AI_RESPONSE_FINISH_REASONS, this.#reasons(e.finishReason))
      if (this.#options.captureContent && e.output !== null) {
        a.push(A.ATTR_GEN_AI_OUTPUT_MESSAGES, outputAttribute(e.output.content, e.output.toolCalls, e.finishReason, this.#options.maxContentBytes))
      }
    }
    this.#end(t, span)
    t.chat = null
    this.#release(t, e.requestId)
  }

  #toolStart(e: KernelEventMap['tool:start']): void {
    const t = this.#traces.get(e.requestId)
    if (t === undefined || t.httpEnded) return
    const attributes: Span['attributes'] = [
      A.ATTR_GEN_AI_OPERATION_NAME, 'execute_tool',
      A.ATTR_GEN_AI_TOOL_NAME, e.tool,
      A.ATTR_GEN_AI_TOOL_CALL_ID, e.callId,
      A.ATTR_GEN_AI_TOOL_TYPE, e.kind === 'mcp' ? 'extension' : 'function',
      A.ATTR_ROBUTLER_TOOL_KIND, e.kind,
    ]
    if (e.skill !== null) attributes.push(A.ATTR_ROBUTLER_SKILL, e.skill)
    if (this.#options.captureContent) attributes.push(A.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS, truncate(redactJsonText(e.arguments), this.#options.maxContentBytes))
    ;(t.tools ??= new Map()).set(e.callId, this.#openChild(t, this.#name('execute_tool', e.tool), SpanKind.INTERNAL, attributes))
  }

  #toolEnd(e: KernelEventMap['tool:end']): void {
    const t = this.#traces.get(e.requestId)
    const span = t?.tools?.get(e.callId)
    if (t === undefined || span === undefined) return
    set(span, A.ATTR_ROBUTLER_TOOL_STATUS, e.status)
    if (e.error !== null) fail(span, e.error)
    if (this.#options.captureContent) set(span, A.ATTR_GEN_AI_TOOL_CALL_RESULT, truncate(redactText(e.result), this.#options.maxContentBytes))
    this.#end(t, span)
    t.tools!.delete(e.callId)
    if (t.tools!.size === 0) t.tools = null
    this.#release(t, e.requestId)
  }
}
