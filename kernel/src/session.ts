// One admitted request to one agent, as every surface runs it: onConnection, the loop, finalizeConnection (on
// error too), with the request's abort, and the failure path written once: an error before the response started
// is thrown for Fastify to answer; after it, the surface's sink writes it in its protocol's terms. A surface that
// offers the agent's own tools (MCP) lists them for the caller's scope and runs one call on the loop's path.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ClientClosedError, detachContext } from './admission.js'
import type { AgentEvent, AgentEventSink, AgentInput, AgentResult } from './agent-events.js'
import type { BuiltAgent } from './agent-build.js'
import { contextStorage } from './context.js'
import { isRobutlerError } from './errors.js'
import { runHooks } from './hooks.js'
import type { Kernel } from './kernel.js'
import type { Context } from './request-context.js'
import { publicProviderError } from './provider-errors.js'
import { firstModelRequest, runAgent } from './runtime.js'
import { SseStream } from './sse.js'
import type { AgentSession, AgentSummary, TokenCount } from './surface-types.js'
import { estimateTokens } from './token-estimate.js'
import { runToolCalls } from './tools.js'
import type { ToolCall, ToolDefinition, ToolResult } from './types.js'

function ignore(_event: AgentEvent): undefined {
  return undefined
}

function runInStorage(session: Session, input: AgentInput, sink: AgentEventSink): Promise<AgentResult | null> {
  return session.runHere(input, sink)
}

function callInStorage(session: Session, name: string, args: Record<string, unknown>): Promise<ToolResult> {
  return session.callToolHere(name, args)
}

export class Session implements AgentSession {
  readonly #kernel: Kernel
  readonly #agent: BuiltAgent
  readonly #reply: FastifyReply
  readonly context: Context
  #sse: SseStream | null = null
  /** Tool calls made through callTool, for their ids. */
  #toolCalls = 0
  /** Set by detach(): the run outlives the request (a background run). */
  #detached = false

  constructor(kernel: Kernel, agent: BuiltAgent, context: Context, reply: FastifyReply) {
    this.#kernel = kernel
    this.#agent = agent
    this.context = context
    this.#reply = reply
  }

  get agent(): AgentSummary {
    return this.#agent.summary
  }

  /** The kernel's own state of the agent (for the kernel's surfaces). */
  get built(): BuiltAgent {
    return this.#agent
  }

  detach(): (reason: unknown) => void {
    if (!this.#detached) {
      this.#detached = true
      detachContext(this.#kernel, this.#reply, this.context)
    }
    const ctx = this.context
    return (reason: unknown) => ctx.abort(reason)
  }

  sse(): SseStream {
    return (this.#sse ??= new SseStream(this.#reply, this.context))
  }

  run(input: AgentInput, sink: AgentEventSink = ignore): Promise<AgentResult | null> {
    // The agent's params policy, before anything runs: a refused field is the client's 400, whatever the surface.
    let params
    try {
      params = this.#agent.params.apply(input.params)
    } catch (error) {
      return Promise.reject(error)
    }
    if (params !== input.params) input = { ...input, params }
    // AsyncLocalStorage only when an enabled package reads getContext(): it costs every request throughput.
    return this.#kernel.asyncContext ? contextStorage.run(this.context, runInStorage, this, input, sink) : this.runHere(input, sink)
  }

  async countTokens(input: AgentInput): Promise<TokenCount> {
    const request = firstModelRequest(this.#agent, this.context, input)
    const target = this.#agent.targets[0]!
    if (typeof target.provider.countTokens !== 'function') return { tokens: estimateTokens(request), exact: false }
    try {
      return { tokens: await target.provider.countTokens(request, { signal: this.context.signal }), exact: true }
    } catch (error) {
      if (this.context.aborted) throw this.#failure(error)
      throw publicProviderError(error, target)
    }
  }

  /** run() without AsyncLocalStorage. */
  async runHere(input: AgentInput, sink: AgentEventSink): Promise<AgentResult | null> {
    const agent = this.#agent
    const ctx = this.context
    const events = this.#kernel.events
    const started = events.has('run:end') ? performance.now() : 0
    if (events.has('run:start')) events.emit('run:start', { requestId: ctx.id, agent: agent.name, stream: input.stream, userId: ctx.identity?.userId ?? null })
    const gates = this.#kernel.runGates
    // How many gates let the run through: only those hear that it ended.
    let passed = 0
    let error: unknown
    let result: AgentResult | null = null
    try {
      if (agent.hooks.onConnection.length > 0) await runHooks(agent.hooks.onConnection, ctx)
      for (; passed < gates.length; passed++) {
        // A gate with nothing to check answers at once: no promise per request.
        const wait = gates[passed]!.before(ctx)
        if (wait) await wait
      }
      result = await runAgent(agent, ctx, input, sink, this.#kernel.runtimeDeps)
      return result
    } catch (thrown) {
      error = this.#failure(thrown)
      if (this.#detached) {
        await this.#failDetached(error, sink)
        return null
      }
      if (!this.#reply.raw.headersSent) throw error
      await this.#failAfterStart(error, sink)
      return null
    } finally {
      if (events.has('run:end')) this.#runEnd(started, result, error)
      if (passed > 0) await this.#gatesAfter(passed, error)
      await this.#finalize(error)
      if (this.#detached) this.#kernel.inflight.delete(ctx)
    }
  }

  #runEnd(started: number, result: AgentResult | null, error: unknown): void {
    const ctx = this.context
    const code = error === undefined ? null : error instanceof ClientClosedError || (ctx.aborted && !isRobutlerError(error)) ? 'aborted' : isRobutlerError(error) ? error.code : 'RBT_ERR_INTERNAL'
    this.#kernel.events.emit('run:end', {
      requestId: ctx.id,
      agent: this.#agent.name,
      durationMs: performance.now() - started,
      model: result?.model ?? null,
      finishReason: result?.finishReason ?? null,
      usage: ctx.usage,
      error: code,
      output: result?.message ?? null,
    })
  }

  async #gatesAfter(passed: number, error: unknown): Promise<void> {
    const gates = this.#kernel.runGates
    for (let i = 0; i < passed; i++) {
      const gate = gates[i]!
      if (!gate.after) continue
      try {
        const wait = gate.after(this.context, { error })
        if (wait) await wait
      } catch (gateError) {
        this.context.log.error({ err: gateError, gate: gate.name }, 'a run gate failed after the run')
      }
    }
  }

  tools(): ToolDefinition[] {
    return this.#agent.views[this.context.scope].tools
  }

  callTool(name: string, args: Record<string, unknown>): Promise<ToolResult> {
    return this.#kernel.asyncContext ? contextStorage.run(this.context, callInStorage, this, name, args) : this.callToolHere(name, args)
  }

  /** callTool() without AsyncLocalStorage. */
  async callToolHere(name: string, args: Record<string, unknown>): Promise<ToolResult> {
    const agent = this.#agent
    const ctx = this.context
    const call: ToolCall = { id: `call_${ctx.id}_${++this.#toolCalls}`, type: 'function', function: { name, arguments: JSON.stringify(args ?? {}) } }
    let error: unknown
    try {
      if (agent.hooks.onConnection.length > 0) await runHooks(agent.hooks.onConnection, ctx)
      const [result] = await runToolCalls(agent, ctx, [call], this.#kernel.runtimeDeps)
      return result!
    } catch (thrown) {
      error = this.#failure(thrown)
      throw error
    } finally {
      await this.#finalize(error)
    }
  }

  async #finalize(error: unknown): Promise<void> {
    const hooks = this.#agent.hooks.finalizeConnection
    if (hooks.length === 0) return
    const status = error ? (isRobutlerError(error) ? error.statusCode : 500) : 200
    try {
      await runHooks(hooks, this.context, { error, status })
    } catch (hookError) {
      this.context.log.error({ err: hookError }, 'finalizeConnection hook failed')
    }
  }

  /** The error a client gets for an aborted or failed run. */
  #failure(error: unknown): unknown {
    const ctx = this.context
    // The abort's own reason, not whatever the aborted work threw (a Node AbortError from a drain wait, say).
    if (ctx.aborted && (isRobutlerError(ctx.abortReason) || ctx.abortReason instanceof ClientClosedError)) return ctx.abortReason
    return error
  }

  /** A detached run's failure: its sink alone hears it (the request it came with has long been answered). */
  async #failDetached(error: unknown, sink: AgentEventSink): Promise<void> {
    const pub = isRobutlerError(error) ? error : this.#kernel.publicError(error, this.#reply.request)
    if (pub.statusCode >= 500 && !isRobutlerError(error)) this.context.log.error({ err: error }, 'detached run failed')
    await sink({ type: 'error', error: pub })
  }

  async #failAfterStart(error: unknown, sink: AgentEventSink): Promise<void> {
    const request: FastifyRequest = this.#reply.request
    const raw = this.#reply.raw
    if (error instanceof ClientClosedError) {
      request.robutlerError = null
      // A client that left may have half-closed the socket: end it, or the connection never turns idle and a
      // later close() waits for it forever.
      raw.destroy()
      return
    }
    const pub = isRobutlerError(error) ? error : this.#kernel.publicError(error, request)
    request.robutlerError = pub.code
    if (pub.statusCode >= 500 && !isRobutlerError(error)) this.context.log.error({ err: error }, 'stream failed')
    try {
      await sink({ type: 'error', error: pub })
    } finally {
      if (!raw.writableEnded && !raw.destroyed) raw.end()
    }
  }
}
