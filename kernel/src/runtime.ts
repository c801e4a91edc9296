// The agent loop: instructions + skill prompts + messages + visible tools → model → internal tool calls → model …
// until a final answer, an external (client) tool call, or maxIterations.
import type { BuiltAgent } from './agent-build.js'
import type { ChatRequest } from './chat-request.js'
import { runHooks } from './hooks.js'
import { completeTurn, streamTurn, type ModelCallDeps } from './model-call.js'
import type { ChunkHead, SseSink } from './sse.js'
import type { Context } from './request-context.js'
import type { ModelTarget } from './providers.js'
import { runToolCalls, type ToolDeps } from './tools.js'
import type { ChatMessage, FinishReason, ModelDelta, ModelRequest, ModelResponse, ToolCall, ToolDefinition, Usage } from './types.js'

export type RuntimeDeps = ModelCallDeps &
  ToolDeps & {
    /** Makes the completion ids (`chatcmpl-…`). */
    completionId: () => string
  }

interface Turn {
  messages: ChatMessage[]
  tools: ToolDefinition[] | undefined
  /** Names of the client's own tools; null when it sent none. */
  external: Set<string> | null
}

function prepare(agent: BuiltAgent, ctx: Context, body: ChatRequest): Turn {
  const view = agent.views[ctx.scope]
  // A copy of the shared system message: hooks may edit the request's messages in place.
  const messages = view.system ? [{ ...view.system }, ...body.messages] : body.messages.slice()
  if (!body.tools || body.tools.length === 0) {
    return { messages, tools: view.tools.length > 0 ? view.tools : undefined, external: null }
  }
  // A client tool with the same name as an internal one wins for this request.
  const external = new Set(body.tools.map((t) => t.function.name))
  const tools = [...view.tools.filter((t) => !external.has(t.function.name)), ...body.tools]
  return { messages, tools, external }
}

function addUsage(total: Usage, usage: Usage | undefined): void {
  if (!usage) return
  total.prompt_tokens += usage.prompt_tokens ?? 0
  total.completion_tokens += usage.completion_tokens ?? 0
  total.total_tokens += usage.total_tokens ?? (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0)
}

function splitCalls(calls: ToolCall[], external: Set<string> | null): { internal: ToolCall[]; outside: ToolCall[] } {
  if (!external) return { internal: calls, outside: [] }
  const internal: ToolCall[] = []
  const outside: ToolCall[] = []
  for (const call of calls) (external.has(call.function.name) ? outside : internal).push(call)
  return { internal, outside }
}

function limitText(agent: BuiltAgent): string {
  return `The agent stopped after ${agent.maxIterations} model calls (maxIterations) without a final answer.`
}

function request(turn: Turn, body: ChatRequest): ModelRequest {
  return { model: '', messages: turn.messages, tools: turn.tools, params: body.params }
}

/** The whole (non-streamed) answer, as an OpenAI chat.completion object. */
export async function completeChat(agent: BuiltAgent, ctx: Context, body: ChatRequest, deps: RuntimeDeps): Promise<Record<string, unknown>> {
  const turn = prepare(agent, ctx, body)
  let model = agent.config.model
  let message: ModelResponse['message'] | null = null
  let finish: FinishReason = 'length'
  for (let i = 0; i < agent.maxIterations && !message; i++) {
    const call = request(turn, body)
    if (agent.hooks.beforeLlmCall.length > 0) await runHooks(agent.hooks.beforeLlmCall, ctx, call)
    const { response, target } = await completeTurn(agent, ctx, call, deps)
    model = target.id
    addUsage(ctx.usage, response.usage)
    if (agent.hooks.afterLlmCall.length > 0) await runHooks(agent.hooks.afterLlmCall, ctx, response)
    const calls = response.message.tool_calls
    if (!calls || calls.length === 0) {
      message = { role: 'assistant', content: response.message.content ?? '', refusal: response.message.refusal ?? null }
      finish = response.finish_reason === 'tool_calls' ? 'stop' : response.finish_reason
      break
    }
    const { internal, outside } = splitCalls(calls, turn.external)
    const results = internal.length > 0 ? await runToolCalls(agent, ctx, internal, deps) : []
    if (outside.length > 0) {
      message = { role: 'assistant', content: response.message.content ?? null, tool_calls: outside, refusal: null }
      finish = 'tool_calls'
      break
    }
    turn.messages.push({ role: 'assistant', content: response.message.content ?? null, tool_calls: internal }, ...results)
  }
  if (!message) message = { role: 'assistant', content: limitText(agent), refusal: null }
  if (agent.hooks.onMessage.length > 0) await runHooks(agent.hooks.onMessage, ctx, message)
  return {
    id: deps.completionId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
    usage: ctx.usage,
    system_fingerprint: null,
  }
}

interface Accumulated {
  content: string
  calls: ToolCall[]
  finish: FinishReason | null
  usage: Usage | undefined
}

function accumulate(acc: Accumulated, delta: ModelDelta): void {
  if (delta.content) acc.content += delta.content
  if (delta.tool_calls) {
    for (const part of delta.tool_calls) {
      const slot = (acc.calls[part.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } })
      if (part.id) slot.id = part.id
      if (part.function?.name && !slot.function.name) slot.function.name = part.function.name
      if (part.function?.arguments) slot.function.arguments += part.function.arguments
    }
  }
  if (delta.finish_reason) acc.finish = delta.finish_reason
  if (delta.usage) acc.usage = delta.usage
}

/** Writes chunks: the role first, one model for all; onChunk hooks see (and may change) each whole chunk. */
class ChunkWriter {
  readonly #agent: BuiltAgent
  readonly #ctx: Context
  readonly #sink: SseSink
  readonly head: ChunkHead
  #roleSent = false

  constructor(agent: BuiltAgent, ctx: Context, sink: SseSink, id: string) {
    this.#agent = agent
    this.#ctx = ctx
    this.#sink = sink
    this.head = { id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: agent.config.model }
  }

  // The chunk path returns a promise only when it must wait (hooks, or a client reading slower than we write):
  // a stream of 50 chunks otherwise pays no async call per chunk.
  #send(choice: Record<string, unknown> | null, usage?: Usage): Promise<void> | undefined {
    if (choice !== null && this.#agent.hooks.onChunk.length === 0) return this.#sink.choice(this.head, choice)
    return this.#sendWithHooks(choice, usage)
  }

  async #sendWithHooks(choice: Record<string, unknown> | null, usage?: Usage): Promise<void> {
    const chunk: Record<string, unknown> = choice ? { ...this.head, choices: [choice] } : { ...this.head, choices: [], usage }
    const hooks = this.#agent.hooks.onChunk
    if (hooks.length > 0) await runHooks(hooks, this.#ctx, chunk)
    await this.#sink.chunk(chunk)
  }

  /** The first chunk (the role) if it has not gone out yet: the model has started answering. */
  start(): Promise<void> | undefined {
    if (this.#roleSent) return undefined
    this.#roleSent = true
    return this.#send({ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null })
  }

  delta(delta: Record<string, unknown>, finish: FinishReason | null = null): Promise<void> | undefined {
    const choice = { index: 0, delta, logprobs: null, finish_reason: finish }
    if (this.#roleSent) return this.#send(choice)
    this.#roleSent = true
    const wait = this.#send({ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null })
    return wait ? wait.then(() => this.#send(choice)) : this.#send(choice)
  }

  /** A content delta: the hot path of a stream, serialised without building the choice object. */
  content(text: string): Promise<void> | undefined {
    if (!this.#roleSent || this.#agent.hooks.onChunk.length > 0) return this.delta({ content: text })
    return this.#sink.choiceJson(this.head, `{"index":0,"delta":{"content":${JSON.stringify(text)}},"logprobs":null,"finish_reason":null}`)
  }

  usage(usage: Usage): Promise<void> | undefined {
    return this.#send(null, usage)
  }
}

/** Streams the answer as OpenAI chunks into `sink` (which writes headers on its first chunk). */
export async function streamChat(agent: BuiltAgent, ctx: Context, body: ChatRequest, sink: SseSink, deps: RuntimeDeps): Promise<void> {
  const turn = prepare(agent, ctx, body)
  const writer = new ChunkWriter(agent, ctx, sink, deps.completionId())
  const answering: { target: ModelTarget | null } = { target: null }
  let final: { message: ModelResponse['message']; finish: FinishReason } | null = null
  for (let i = 0; i < agent.maxIterations && !final; i++) {
    const call = request(turn, body)
    if (agent.hooks.beforeLlmCall.length > 0) await runHooks(agent.hooks.beforeLlmCall, ctx, call)
    const acc: Accumulated = { content: '', calls: [], finish: null, usage: undefined }
    for await (const delta of streamTurn(agent, ctx, call, deps, answering)) {
      // Providers need not watch the signal: stop reading one whose client has gone.
      if (ctx.aborted) throw ctx.abortReason
      if (i === 0 && acc.content === '' && answering.target) writer.head.model = answering.target.id
      accumulate(acc, delta)
      if (delta.content) {
        const wait = writer.content(delta.content)
        if (wait) await wait
      } else if (i === 0 && delta.tool_calls === undefined && delta.finish_reason === undefined && delta.usage === undefined) {
        // An empty delta: the model has started answering. Only that one sends the first chunk early: a turn that
        // opens with tool calls keeps its headers back, so a full pool is still a plain 503.
        const wait = writer.start()
        if (wait) await wait
      }
    }
    addUsage(ctx.usage, acc.usage)
    const calls = acc.calls.filter(Boolean)
    const response: ModelResponse = {
      message: { role: 'assistant', content: acc.content || null, tool_calls: calls.length > 0 ? calls : undefined },
      finish_reason: acc.finish ?? (calls.length > 0 ? 'tool_calls' : 'stop'),
      usage: acc.usage,
    }
    if (agent.hooks.afterLlmCall.length > 0) await runHooks(agent.hooks.afterLlmCall, ctx, response)
    if (calls.length === 0) {
      final = { message: response.message, finish: response.finish_reason === 'tool_calls' ? 'stop' : response.finish_reason }
      break
    }
    const { internal, outside } = splitCalls(calls, turn.external)
    const results = internal.length > 0 ? await runToolCalls(agent, ctx, internal, deps) : []
    if (outside.length > 0) {
      for (let index = 0; index < outside.length; index++) {
        const { id, function: fn } = outside[index]!
        await writer.delta({ tool_calls: [{ index, id, type: 'function', function: { name: fn.name, arguments: fn.arguments } }] })
      }
      final = { message: { role: 'assistant', content: acc.content || null, tool_calls: outside }, finish: 'tool_calls' }
      break
    }
    turn.messages.push({ role: 'assistant', content: acc.content || null, tool_calls: internal }, ...results)
  }
  if (!final) {
    final = { message: { role: 'assistant', content: limitText(agent) }, finish: 'length' }
    await writer.delta({ content: final.message.content })
  }
  await writer.delta({}, final.finish)
  if (body.includeUsage) await writer.usage(ctx.usage)
  if (agent.hooks.onMessage.length > 0) await runHooks(agent.hooks.onMessage, ctx, final.message)
  sink.done()
}
