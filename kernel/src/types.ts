// The kernel's public types: what plugins, skills and providers are written against.
// OpenAI wire names (snake_case) are kept where a value crosses the wire unchanged.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { ParamPolicyConfig } from './param-policy.js'
import type { SurfaceDefinition } from './surface-types.js'

/** Caller scopes, weakest first: `admin` ⊃ `owner` ⊃ `all`. */
export type Scope = 'all' | 'owner' | 'admin'

// ---------------------------------------------------------------- OpenAI shapes

export type JsonSchema = Record<string, unknown>

export interface ContentPart {
  type: string
  text?: string
  [key: string]: unknown
}

export interface ToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool'
  content?: string | ContentPart[] | null
  name?: string
  tool_calls?: ToolCall[]
  tool_call_id?: string
  refusal?: string | null
  [key: string]: unknown
}

export interface ToolDefinition {
  type: 'function'
  function: { name: string; description?: string; parameters?: JsonSchema; strict?: boolean | null }
}

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  [key: string]: unknown
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call'

/** Sampling and output fields passed to the provider unchanged (DESIGN.md, chat completions). */
export interface SamplingParams {
  temperature?: number
  top_p?: number
  max_tokens?: number
  max_completion_tokens?: number
  stop?: string | string[]
  presence_penalty?: number
  frequency_penalty?: number
  seed?: number
  response_format?: Record<string, unknown>
  tool_choice?: unknown
  parallel_tool_calls?: boolean
  user?: string
  [key: string]: unknown
}

// ---------------------------------------------------------------- providers

/** One call to a model: what the agent runtime hands a provider. */
export interface ModelRequest {
  /** The model name after the provider prefix: `gpt-4o` for `openai/gpt-4o`. */
  model: string
  messages: ChatMessage[]
  tools?: ToolDefinition[]
  params: SamplingParams
}

/** The assistant message of one model turn, or of a whole answer. */
export interface AssistantMessage {
  role: 'assistant'
  content: string | null
  tool_calls?: ToolCall[]
  refusal?: string | null
  /** The model's reasoning text, where the provider gives it (Anthropic thinking, `reasoning_content`). */
  reasoning?: string
}

/** One whole model turn. */
export interface ModelResponse {
  message: AssistantMessage
  finish_reason: FinishReason
  /** The stop sequence that ended the answer, where the provider says which one did (Anthropic, local). */
  stop_sequence?: string
  usage?: Usage
}

export interface ToolCallDelta {
  index: number
  id?: string
  type?: 'function'
  function?: { name?: string; arguments?: string }
}

/**
 * One streamed piece of a model turn (an OpenAI chunk's first choice, flattened). An empty delta (`{}`) says the model has started answering (OpenAI's role chunk,
 * Anthropic's message_start): the kernel then sends the client its first chunk, so time to first byte follows the
 * upstream's, not its first token.
 */
export interface ModelDelta {
  content?: string
  refusal?: string
  reasoning?: string
  tool_calls?: ToolCallDelta[]
  finish_reason?: FinishReason | null
  /** With the finish reason: the stop sequence that ended the answer, where the provider says which one did. */
  stop_sequence?: string
  usage?: Usage
}

export interface CallOptions {
  /** Fires when the client disconnects, the request times out or the server force-closes. */
  signal: AbortSignal
  /**
   * Headers to send with this call, beside the provider's own: the request's trace context (W3C `traceparent`)
   * when a plugin propagates one (`kernel.propagation`). Absent when none does.
   */
  headers?: Record<string, string>
}

/** A model backend registered under a prefix (`openai`, `local`, …). */
export interface Provider {
  complete(request: ModelRequest, options: CallOptions): Promise<ModelResponse>
  stream(request: ModelRequest, options: CallOptions): AsyncIterable<ModelDelta>
  /**
   * Optional: the exact number of input tokens the model would be billed for this request (its messages, tools
   * and params as `complete` would send them), where the upstream can count them. Without it, surfaces that
   * count tokens (`session.countTokens`) give an estimate.
   */
  countTokens?(request: ModelRequest, options: CallOptions): Promise<number>
}

// ---------------------------------------------------------------- identity and auth

export interface Identity {
  userId: string
  scope: Scope
  /** The id of the credential used, never the secret itself. */
  keyId?: string
  /** When set, the only agents this identity may use. */
  agents?: string[]
  /** A spending cap of this credential's own (a key's `--budget`), enforced by a budgets plugin such as plugin-usage. */
  budget?: IdentityBudget
}

/** A credential's own budget: tokens and/or cost (in the price table's currency) per period. */
export interface IdentityBudget {
  period: 'day' | 'month' | 'total'
  tokens?: number
  cost?: number
}

export interface Credential {
  scheme: 'bearer' | 'x-api-key'
  token: string
}

/** An identity, `'not-mine'` (let the next authenticator try) or `'invalid'` (401 at once). */
export type AuthAnswer = Identity | 'not-mine' | 'invalid'

export type Authenticator = (credential: Credential, request: FastifyRequest) => AuthAnswer | Promise<AuthAnswer>

// ---------------------------------------------------------------- agents

export interface AgentConfig {
  name: string
  description?: string
  model: string
  instructions?: string
  /** Caller scopes allowed to use this agent at all (default `["all"]`). */
  scopes?: Scope[]
  /** Skills attached to this agent, by package name, each with config overriding the top-level defaults. */
  skills?: Record<string, Record<string, unknown>>
  maxIterations?: number
  fallbackModels?: string[]
  /** A user id that gets `owner` scope on this agent. */
  owner?: string
  /** Which request fields clients may pass to the provider, defaults, caps and forced values (over `server.params`). */
  params?: ParamPolicyConfig
}

/** Returns the agent config for a name, or null when this loader has no such agent. */
export type AgentLoader = (name: string, options: AgentLoadOptions) => Promise<AgentConfig | null>

export interface AgentLoadOptions {
  signal: AbortSignal
  /**
   * The trace context (W3C `traceparent`) of the request that started the load, when a plugin propagates one
   * (kernel.propagation): send it with what the loader asks (plugin-agents-http sends it as headers).
   */
  propagation?: Record<string, string>
}

/**
 * Names every agent a loader can load (a folder's files, a table's enabled rows), for `GET /agents` and
 * `GET /models`. Optional: a loader that cannot enumerate its source (an HTTP portal) gives none.
 */
export type AgentLister = (options: { signal: AbortSignal }) => Promise<string[]>

/** How a loader is added: its priority (lower is asked first), its name in errors, and its lister if it has one. */
export interface AgentLoaderOptions {
  priority?: number
  name?: string
  list?: AgentLister
}

// ---------------------------------------------------------------- request context

/** One plain object per request, reachable through `getContext()` (AsyncLocalStorage). */
export interface RequestContext {
  id: string
  identity: Identity | null
  /** The caller's scope on the resolved agent (owner and admin lifts applied). */
  scope: Scope
  agent: string | null
  /** The protocol surface serving the request: `chat`, `messages`, `mcp`, `responses`, or a skill route's `route`. */
  surface: string
  /** Epoch ms after which the request has timed out. */
  deadline: number
  readonly signal: AbortSignal
  usage: Usage
  log: Logger
  /** Free space for skills and hooks, per request. */
  state: Record<string, unknown>
}

// ---------------------------------------------------------------- skills

export interface ToolRunContext {
  signal: AbortSignal
  context: RequestContext
  log: Logger
  /**
   * The request's trace context (W3C `traceparent`, `tracestate`) for what the tool calls, when a plugin propagates
   * one (kernel.propagation): send it on (skill-mcp puts it in the MCP call's `_meta`).
   */
  propagation?: Record<string, string>
}

export interface ToolExample {
  arguments: Record<string, unknown>
  /** When set, `skills validate` checks the tool returns this (deep equal). */
  result?: unknown
}

export interface SkillTool {
  name: string
  description: string
  /** JSON Schema of the arguments, checked with ajv before the tool runs. */
  parameters: JsonSchema
  /** The weakest scope that may see and run this tool (default `all`). */
  scope?: Scope
  /** Runs in process. Exactly one of `run` or `worker` is set. */
  run?: (args: Record<string, any>, ctx: ToolRunContext) => unknown | Promise<unknown>
  /** The named export of the skill's manifest `worker` module, run in the pool. */
  worker?: string
  /** Per-call time limit in milliseconds. */
  timeoutMs?: number
  examples?: ToolExample[]
  /** Set when the tool calls a remote tool server (`mcp`): monitoring tells such calls apart from in-process ones. */
  remote?: 'mcp'
}

export interface ToolCallInfo {
  id: string
  name: string
  arguments: Record<string, unknown>
  skill: string | null
}

export interface ToolResult {
  content: string
  error?: boolean
}

export interface FinalizeInfo {
  error?: unknown
  status: number
}

/** Hook signatures by name, in the order they run in a request. */
export interface HookMap {
  onConnection: (ctx: RequestContext) => void | Promise<void>
  beforeLlmCall: (ctx: RequestContext, request: ModelRequest) => void | Promise<void>
  afterLlmCall: (ctx: RequestContext, response: ModelResponse) => void | Promise<void>
  onChunk: (ctx: RequestContext, chunk: Record<string, unknown>) => void | Promise<void>
  beforeToolCall: (ctx: RequestContext, call: ToolCallInfo) => void | Promise<void>
  afterToolCall: (ctx: RequestContext, call: ToolCallInfo, result: ToolResult) => void | Promise<void>
  onMessage: (ctx: RequestContext, message: AssistantMessage) => void | Promise<void>
  finalizeConnection: (ctx: RequestContext, info: FinalizeInfo) => void | Promise<void>
}

export type HookName = keyof HookMap

export type HookSpec<K extends HookName> = HookMap[K] | { priority?: number; fn: HookMap[K] }

export interface SkillPrompt {
  priority?: number
  /** The weakest caller scope that sees this prompt (default `all`). */
  scope?: Scope
  text: string
}

export interface SkillRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** Path under `/{agent}`, find-my-way syntax (`/forecast/:city`). */
  path: string
  scope?: Scope
  handler: (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext) => unknown | Promise<unknown>
}

/** Who may use the agent a skill is attached to (merged over every skill of the agent); needs the kernel permission `access`. */
export interface SkillAccess {
  /** When true, `GET /{agent}`, chat and skill routes need an identity (401 without); `/{agent}/health` stays public. */
  required?: boolean
  /** A user id that gets `owner` scope on the agent (overrides the agent's `owner`). */
  owner?: string
  /** User ids that get `admin` scope on the agent. */
  admins?: string[]
}

/**
 * Tools that change while the server runs (an MCP server's tools, which come and go with the server and its
 * `list_changed` notifications). The kernel reads `tools()` when it builds the agent and again each time the skill
 * calls the function it was given in `watch`: the agent then offers the new list to every scope, and `GET /{agent}`
 * shows it. A request already running keeps the list it started with; a call of a tool that has gone answers
 * `RBT_ERR_TOOL_NOT_FOUND`.
 * @example
 * const source: SkillToolSource = {
 *   tools: () => [...current.values()],
 *   watch: (changed) => { onChange = changed },
 * }
 * return { toolSource: source }
 */
export interface SkillToolSource {
  /** The tools now, held to the same rules as `tools` (a name another skill of the agent has is skipped, with a warning). */
  tools(): SkillTool[]
  /** Called once, when the agent is built: call `changed()` whenever `tools()` would answer something else. */
  watch(changed: () => void): void
}

export interface SkillParts {
  access?: SkillAccess
  tools?: SkillTool[]
  /** Tools that change while the server runs, next to (or instead of) `tools`. */
  toolSource?: SkillToolSource
  hooks?: { [K in HookName]?: HookSpec<K> }
  prompts?: Array<SkillPrompt | string>
  http?: SkillRoute[]
}

export interface SkillDefinition<C = Record<string, unknown>> {
  name: string
  /**
   * Set when the skill (or a library it uses) calls `getContext()`: the kernel then keeps each request's context
   * in AsyncLocalStorage, which costs every request some throughput on Node 20. Hooks, tools and routes get the
   * context as an argument either way.
   */
  asyncContext?: boolean
  /** Called once per agent the skill is attached to (again when a loaded agent is reloaded), with the merged config. */
  setup: (config: C, api: SkillApi) => SkillParts | Promise<SkillParts>
}

/**
 * What a skill's setup receives: the skill API, scoped to one agent — never the kernel API. A skill adds to its own
 * agent only, through the parts setup returns (tools, hooks, prompts, routes under `/{agent}/`, access); it sees its
 * validated config (setup's first argument), its agent's name, a logger, and the environment variables it declared
 * and was granted. It has no Fastify instance, authenticators, providers, events or other agents: reading any other
 * property throws, naming it. (In-process code can still reach `process` and Node's globals: an in-process skill is
 * trusted code; isolation is the boundary — docs/security.md.)
 */
export interface SkillApi {
  /** The name of the agent this setup builds. */
  readonly agent: string
  /** The kernel's version. */
  readonly version: string
  readonly urlPrefix: string
  /** The config file's folder: relative paths in the skill's config resolve against it. */
  readonly baseDir: string
  /** Only the variables of the skill's `robutler.permissions.env` (as granted); any other name reads `undefined`. */
  readonly env: Readonly<Record<string, string | undefined>>
  /** A pino child logger naming the skill and the agent. */
  readonly log: Logger
  /** Health checks `/ready` runs. Needs the kernel permission `health`; without it, calling `add` throws. */
  readonly health: { add(name: string, check: HealthCheck): void }
  /** Runs when the server closes (in reverse order of registration). */
  onClose(fn: () => void | Promise<void>): void
  /**
   * One value per server for this skill, made by `make` on the first call and the same object afterwards, for every
   * agent the skill is attached to: state that must outlive one agent's build (processes, connection pools), where
   * a loaded agent is built again whenever it is reloaded. Close what it holds with `onClose`.
   * @example
   * const pool = api.shared(() => {
   *   const pool = new Pool()
   *   api.onClose(() => pool.end())
   *   return pool
   * })
   */
  shared<T>(make: () => T): T
}

/** What a plugin's CLI command receives: its validated config section, without a server running. */
export interface CommandContext<C = Record<string, unknown>> {
  config: C
  env: Readonly<Record<string, string | undefined>>
  /** The config file's folder. */
  baseDir: string
  /**
   * Checks an agent config by the rules `robutler start` applies to the config's agents (name, schema, a model
   * prefix that an enabled plugin provides, skills that are enabled and their configs): empty when it would load.
   * A command that stores agents (`robutler agents put`) refuses what a server would refuse to load.
   */
  checkAgent?: (config: unknown) => Array<{ code: string; message: string; hint?: string }>
  stdin: NodeJS.ReadableStream
  stdout: (text: string) => void
  stderr: (text: string) => void
}

/** A `robutler <name> …` command contributed by an enabled plugin (`robutler keys create`). */
export interface PluginCommand<C = Record<string, unknown>> {
  description: string
  /** One line per form, e.g. `keys create --user ID [--scope all|owner|admin]`. */
  usage?: string
  /** Resolves to the exit code (default 0). */
  run: (args: string[], context: CommandContext<C>) => number | void | Promise<number | void>
}

export interface PluginDefinition<C = Record<string, unknown>> {
  name?: string
  /** Set when the plugin calls `getContext()` (see SkillDefinition.asyncContext). */
  asyncContext?: boolean
  register: (kernel: KernelApi, config: C) => void | Promise<void>
  commands?: Record<string, PluginCommand<C>>
}

// ---------------------------------------------------------------- events

export interface KernelEventMap {
  'request:start': { requestId: string; method: string; url: string }
  'request:end': {
    requestId: string
    method: string
    route: string
    status: number
    agent: string | null
    durationMs: number
    /** The client left before the answer ended. */
    aborted: boolean
    /** The RBT_ERR_* code when the request failed, streams that failed after their first byte included. */
    error: string | null
  }
  'agent:resolved': { requestId: string; agent: string; source: 'static' | 'cache' | 'loader'; durationMs: number }
  'llm:start': {
    requestId: string
    agent: string
    provider: string
    model: string
    stream: boolean
    /** Which target of the agent answers: 0 its model, 1 its first fallback, … */
    fallback: number
    /** Which try of that target: 0 the first, 1 the first retry, … */
    attempt: number
    /** The request as it goes to the provider (messages, tools, sampling params): read it, never change it. */
    request: ModelRequest
  }
  'llm:end': {
    requestId: string
    agent: string
    /** The caller (null: anonymous) and the id of the credential it used, for metering. */
    userId: string | null
    keyId: string | null
    /** The protocol surface the request came through (RequestContext.surface). */
    surface: string
    provider: string
    model: string
    stream: boolean
    fallback: number
    attempt: number
    durationMs: number
    /** Time to first token, streamed calls only. */
    ttftMs: number | null
    usage: Usage | null
    /** How the call failed (`rate_limit`, `server`, `connection`, `timeout`, `client`, `aborted`), or null. */
    error: string | null
    /** Why the model stopped, when it said (null for a failed call). */
    finishReason: FinishReason | null
    /** What the model answered (a streamed call's text added up), null for a failed call: read it, never change it. */
    output: { content: string | null; toolCalls?: ToolCall[] } | null
  }
  'tool:start': {
    requestId: string
    agent: string
    skill: string | null
    tool: string
    /** The model's id for the call. */
    callId: string
    /** Where it runs: in process, in the worker pool, or through a remote tool server (MCP). */
    kind: ToolKind
    /** The arguments as the model wrote them (JSON text). */
    arguments: string
  }
  'tool:end': {
    requestId: string
    agent: string
    skill: string | null
    tool: string
    callId: string
    kind: ToolKind
    durationMs: number
    status: 'ok' | 'error' | 'invalid' | 'refused'
    /** The RBT_ERR_* code of a call that did not succeed, else null. */
    error: string | null
    /** The text the model gets back (an error's text for a failed call). */
    result: string
  }
  /** The agent loop of one request starts (on every surface), before its onConnection hooks. */
  'run:start': {
    requestId: string
    agent: string
    stream: boolean
    /** The caller's user id (null: anonymous); never its key. */
    userId: string | null
  }
  /** The loop ended: its answer, or how it failed (`aborted` when the client left). */
  'run:end': {
    requestId: string
    agent: string
    durationMs: number
    /** The model string that gave the last answer (null when none did). */
    model: string | null
    finishReason: FinishReason | null
    /** Every model call of the run added up. */
    usage: Usage
    /** The RBT_ERR_* code (or `aborted`) when the run failed, else null. */
    error: string | null
    /** The answer's message (null when the run failed): read it, never change it. */
    output: AssistantMessage | null
  }
  'pool:task': { name: string; durationMs: number; status: 'ok' | 'error' | 'timeout' | 'aborted' }
  /** Emitted by a limits plugin when it refuses a request (`budget`: a budgets plugin). */
  'limit:rejected': { requestId: string; limit: 'rate' | 'parallel' | 'budget'; agent: string | null }
  /** Emitted by a metering plugin (plugin-usage) for each model call it records, with its priced cost (null: no price). */
  'usage:recorded': { requestId: string; agent: string; model: string; promptTokens: number; completionTokens: number; cost: number | null }
}

export type KernelEventName = keyof KernelEventMap

/** Where a tool call runs. */
export type ToolKind = 'inline' | 'worker' | 'mcp'

export interface KernelEvents {
  on<K extends KernelEventName>(event: K, fn: (payload: KernelEventMap[K]) => void): void
  off<K extends KernelEventName>(event: K, fn: (payload: KernelEventMap[K]) => void): void
  /** Plugins emit only the events they own (`limit:rejected`); the kernel emits the rest. */
  emit<K extends KernelEventName>(event: K, payload: KernelEventMap[K]): void
}

// ---------------------------------------------------------------- the kernel handed to plugins

/**
 * Writes the headers that carry a request's context onto an outgoing call (see KernelApi.propagation): a model
 * call's, or with `toolCallId`, what that tool call sends (an MCP call's `_meta`).
 */
export type HeaderInjector = (requestId: string, headers: Record<string, string>, toolCallId?: string) => void

/**
 * A plugin's gate on the agent loop (budgets, quotas): `before` runs once per request, before its first model call
 * (after the agent's onConnection hooks); throwing refuses the request — a RobutlerError reaches the client as it
 * is, before any byte of the answer. `after` runs when the run ends (failed or aborted too) for every request whose
 * `before` passed; its errors are logged, never answered. Gates run in the order plugins added them.
 */
export interface RunGate {
  name: string
  before(ctx: RequestContext): void | Promise<void>
  after?(ctx: RequestContext, outcome: { error: unknown }): void | Promise<void>
}

export type HealthCheck = (signal: AbortSignal) => void | Promise<void>

/** One agent as an operator's tool (the console) shows it: never its instructions or skill configs. */
export interface AgentDescription {
  name: string
  description: string
  model: string
  fallbackModels: string[]
  /** Caller scopes allowed to use it at all, its owner, and the user ids that get `admin` scope on it (skill-auth). */
  scopes: Scope[]
  owner: string | null
  admins: string[]
  /** Whether a caller needs an identity (skill-auth `required`). */
  requireIdentity: boolean
  /** `static`: from the config; `cache`: loaded by a loader and cached now. */
  source: 'static' | 'cache'
  skills: Array<{
    name: string
    tools: Array<{ name: string; description: string; scope: Scope; runs: 'worker' | 'inline'; isolated: boolean }>
  }>
}

/** The load-time report of the running server, as `robutler doctor` words it: installed packages and problems. */
export interface PackageReport {
  kernelVersion: string
  problems: Array<{ code: string; message: string; package?: string; hint?: string }>
  packages: Array<{
    name: string
    version: string
    kind: string
    /** The manifest's kernel range, and whether this kernel satisfies it. */
    kernelRange: string | null
    compatible: boolean
    enabled: boolean
    /** What the package declares it needs (`env`, `network`), as its manifest says. */
    permissions: Record<string, unknown> | null
  }>
}

export interface KernelApi {
  readonly version: string
  readonly urlPrefix: string
  /** The config file's folder: relative paths in a plugin's config resolve against it. */
  readonly baseDir: string
  /** The server's environment (createServer's `env`, default process.env): read defaults such as API keys here. */
  readonly env: Readonly<Record<string, string | undefined>>
  providers: { register(prefix: string, provider: Provider): void; has(prefix: string): boolean }
  agents: {
    addLoader(loader: AgentLoader, options?: AgentLoaderOptions): void
    /** Forgets a cached agent, or with no name every cached agent and unknown name (after missed updates). */
    invalidate(name?: string): void
    /** Agent cache figures (for monitoring). */
    /** `staleServed`: reloads that failed and were answered by the agent as last loaded (see `server.agentMaxStale`). */
    stats(): { static: number; cached: number; hits: number; misses: number; loads: number; loadErrors: number; staleServed?: number }
    /** The configured agents, then the loaded agents in the cache now (for operators' tools). */
    describe(): AgentDescription[]
  }
  auth: {
    /** Whether any authenticator is enabled (without one, every caller is anonymous). */
    readonly enabled: boolean
    addAuthenticator(fn: Authenticator): void
    /**
     * The request's identity through the authenticator chain (null: anonymous); rejects with a 401
     * RobutlerError for a bad credential. Runs the chain once per request, however often it is asked.
     */
    identify(request: FastifyRequest): Promise<Identity | null>
    /**
     * The same answer, without a promise when it is known at once (no credential, or authenticators that answer
     * synchronously, such as a config key); a bad credential is then thrown. For hooks on the request path, where a
     * promise per request costs.
     */
    identifyNow(request: FastifyRequest): Identity | null | Promise<Identity | null>
  }
  events: KernelEvents
  /**
   * Context propagation for the calls the kernel makes on a request's behalf (model calls): each injector added
   * writes headers (W3C `traceparent`, `tracestate`) for the request id it is given, and they go out with the
   * call (CallOptions.headers). With none added, calls carry no extra headers and nothing is built.
   * @example
   * kernel.propagation.add((requestId, headers) => { headers.traceparent = currentSpanOf(requestId) })
   */
  propagation: { add(inject: HeaderInjector): void }
  /**
   * Figures that must cover every serving process under `--workers N`: `gather(topic)` returns one value per
   * process (this one's included), each from the handler that process registered with `onGather(topic, fn)`.
   * In a single process it returns this process's value alone.
   */
  cluster: {
    readonly isWorker: boolean
    /** `merge` folds departed processes' answers into one, so the primary keeps one per topic (see gatherAll). */
    onGather(topic: string, handler: () => unknown | Promise<unknown>, options?: { merge?: (values: unknown[]) => unknown | Promise<unknown> }): void
    gather(topic: string, timeoutMs?: number): Promise<unknown[]>
    /**
     * gather, plus `departed`: what workers that died since (or that did not answer in time) last answered. Add
     * their counters to the live ones and a cluster-wide counter never goes down when a worker is replaced.
     */
    gatherAll(topic: string, timeoutMs?: number): Promise<{ values: unknown[]; departed: unknown[] }>
  }
  /** The worker pool's figures (for monitoring). */
  /** `recycled`: threads ended because they held more memory outside the heap than `workerResourceLimits.maxExternalMb`. */
  pool: { stats(): { threads: number; queueSize: number; utilization: number; completed: number; failed: number; recycled?: number } }
  /** The packages this server found and enabled, and the load-time problems (none once it serves). */
  packages(): PackageReport
  /** The Fastify instance: add routes such as `/metrics` here. */
  http: FastifyInstance
  /** Gates every agent run passes before its first model call and after it ends: see RunGate. */
  runs: { gate(gate: RunGate): void }
  /** Protocol surfaces over the agent loop (the Responses API, Anthropic Messages, MCP): see SurfaceDefinition. */
  surfaces: { add(definition: SurfaceDefinition): void }
  health: { add(name: string, check: HealthCheck): void }
  onReady(fn: () => void | Promise<void>): void
  onClose(fn: () => void | Promise<void>): void
  log: Logger
}
