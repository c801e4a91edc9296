// The surfaces API: how a plugin adds a protocol (the Responses API, Anthropic Messages, MCP) over the agent loop,
// with what the chat route has without writing it again: the auth chain and identity, agent resolution and access
// rules, rate limits, request ids, draining, the request log line, metrics events, and the loop itself.
import type { FastifyReply, FastifyRequest, HTTPMethods } from 'fastify'
import type { AgentEventSink, AgentInput, AgentResult } from './agent-events.js'
import type { RobutlerError } from './errors.js'
import type { SseStream } from './sse.js'
import type { Identity, RequestContext, ToolDefinition, ToolResult } from './types.js'

/** What a surface may tell a client about an agent. */
export interface AgentSummary {
  name: string
  description: string
  /** The model string the agent runs on. */
  model: string
  /** The user id that owns it, or null. */
  owner: string | null
}

/** One admitted request to one agent: its context, and a handle to run the loop with the request's abort. */
export interface AgentSession {
  readonly agent: AgentSummary
  /** The request's context: id, identity, the caller's scope on this agent, deadline, abort signal, usage, log. */
  readonly context: RequestContext
  /**
   * Runs the agent (onConnection and finalizeConnection hooks around the loop), telling `sink` each event.
   * Resolves to the answer. When it fails before the response has started, it rejects: Fastify answers the error
   * (OpenAI-shaped, with its status). When it fails after (a stream under way), the sink gets an `error` event to
   * write in its protocol's terms, the response is ended, and it resolves to null.
   */
  run(input: AgentInput, sink?: AgentEventSink): Promise<AgentResult | null>
  /**
   * The input tokens the agent's model would be sent for `input` on its first turn: the agent's system prompt and
   * the tools the caller's scope sees, with the client's messages and tools. Exact (`exact: true`) when the model's
   * provider can count them (`Provider.countTokens`); otherwise an estimate from the text's length (about four
   * characters a token). Runs no hooks and calls no model; a provider's failure rejects as a model call's would.
   */
  countTokens(input: AgentInput): Promise<TokenCount>
  /** The agent's own tools (its skills') that the caller's scope may see, as the model is offered them. */
  tools(): ToolDefinition[]
  /**
   * Runs one of the agent's tools for this caller, on the loop's own path: onConnection, the scope check (again:
   * a tool the caller may not see is refused), argument validation, beforeToolCall/afterToolCall, the tool's time
   * limit and the request's abort, the worker pool for pool tools, the `tool:start`/`tool:end` events, then
   * finalizeConnection. A call that fails, is refused, names no tool or has bad arguments answers a result with
   * `error: true` and an `RBT_ERR_TOOL_*` text, as the model would read it; only the request's own abort (or a full
   * pool, 503) rejects.
   * @example
   * const visible = session.tools().map((tool) => tool.function.name)
   * const { content, error } = await session.callTool('calculate', { expression: '6*7' })
   */
  callTool(name: string, args: Record<string, unknown>): Promise<ToolResult>
  /**
   * Lets the run outlive this request (a background run that answers the client at once): the client leaving no
   * longer aborts it; the request timeout, the drain and the returned function (a cancel) still do. After it, a
   * run that fails tells its sink an `error` event and resolves to null, whatever the reply's state. Call it before
   * run(); the session's reply is then the surface's to answer at once.
   * @example
   * const cancel = session.detach()
   * void session.run(input, (event) => log.append(event))
   * return queuedResponse          // later: cancel(ERR_CANCELLED())
   */
  detach(): (reason: unknown) => void
  /** Server-sent events on this request's reply: headers go out with the first frame. */
  sse(): SseStream
}

/** What `AgentSession.countTokens` answers. */
export interface TokenCount {
  tokens: number
  /** True when the provider counted them; false for the kernel's estimate. */
  exact: boolean
}

/** An error as a surface's protocol answers it: the status, and the body in its own shape. */
export interface ErrorAnswer {
  status: number
  body: unknown
}

/**
 * Renders an error (always a RobutlerError: the kernel has made any other error a public one) for a client of a
 * surface's routes. Keep the error's `code` somewhere in the body, so operators can match what clients report.
 */
export type ErrorRenderer = (error: RobutlerError, request: FastifyRequest) => ErrorAnswer

/** A request to a server route of a surface that names no agent in its path or body (a stored object, a list). */
export interface SurfaceCall {
  readonly identity: Identity | null
  /** Admits the caller to an agent (404/401/403 as for its own routes); once per request. */
  open(agent: string): Promise<AgentSession>
  /** The configured agents this caller may use. */
  agents(): AgentSummary[]
}

export type AgentRouteHandler = (session: AgentSession, request: FastifyRequest, reply: FastifyReply) => unknown
export type ServerRouteHandler = (call: SurfaceCall, request: FastifyRequest, reply: FastifyReply) => unknown

interface RouteShape {
  method: HTTPMethods | HTTPMethods[]
  /** Starts with `/`; find-my-way syntax (`/responses/:id`). */
  path: string
}

/**
 * A protocol surface. Its `model` and `server` paths' first segments are reserved while it is enabled: an agent
 * with such a name is refused at load, naming the plugin.
 * @example
 * kernel.surfaces.add({
 *   agent: [{ method: 'POST', path: '/responses', handler: (session, request) => answer(session, request.body) }],
 *   model: [{ method: 'POST', path: '/responses', agentOf: (request) => (request.body as any)?.model, handler: … }],
 * })
 */
export interface SurfaceDefinition {
  /**
   * The protocol's short name (`responses`, `messages`, `mcp`), as usage records and `llm:end` events name the
   * surface a request came through (RequestContext.surface). Default: the plugin's package name without
   * `@scope/plugin-`. The kernel's Chat Completions is `chat`.
   */
  name?: string
  /** Routes under `{urlPrefix}/{agent}`: the caller is admitted to the agent of the path before the handler runs. */
  agent?: Array<RouteShape & { handler: AgentRouteHandler }>
  /**
   * Routes under `{urlPrefix}` for the agent a request names as its model: `agentOf` reads it (after the body is
   * parsed; anything but a string is a 400 naming `model`), an unknown one is 404 RBT_ERR_MODEL_NOT_FOUND.
   */
  model?: Array<RouteShape & { agentOf: (request: FastifyRequest) => unknown; handler: AgentRouteHandler }>
  /** Routes under `{urlPrefix}` that serve no one agent; the handler may open one. */
  server?: Array<RouteShape & { handler: ServerRouteHandler }>
  /**
   * How this surface's routes answer errors, in its protocol's shape (default: OpenAI's
   * `{"error": {message, type, code, param}}` with the error's status). It serves every error of these routes:
   * admission (draining, 401, 403, 404), limits (429), bodies (400, 413, 415) and failures before the response
   * started. The kernel still sets `Retry-After` (and `Connection: close` while draining) and logs the code.
   * Errors after a stream started reach the run's sink as an `error` event instead.
   */
  errors?: ErrorRenderer
}
