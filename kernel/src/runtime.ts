// The agent loop, written once for every surface: instructions + skill prompts + messages + visible tools →
// model → internal tool calls → model … until a final answer, a call of the client's own tools, or
// maxIterations. It tells what happens as a stream of AgentEvents; surfaces render them.
import type { AgentEvent, AgentEventSink, AgentInput, AgentResult } from './agent-events.js'
import type { BuiltAgent } from './agent-build.js'
import { runHooks } from './hooks.js'
import { callModel, type ModelCallDeps } from './model-call.js'
import type { ModelTarget } from './providers.js'
import type { Context } from './request-context.js'
import { runToolCalls, type ToolDeps } from './tools.js'
import type { AssistantMessage, ChatMessage, FinishReason, ModelDelta, ModelRequest, ModelResponse, ToolCall, ToolCallDelta, ToolDefinition, Usage } from './types.js'

export type RuntimeDeps = ModelCallDeps & ToolDeps

interface Conversation {
  messages: ChatMessage[]
  tools: ToolDefinition[] | undefined
  /** Names of the client's own tools; null when it sent none. */
  external: Set<string> | null
}

function prepare(agent: BuiltAgent, ctx: Context, input: AgentInput): Conversation {
  const view = agent.views[ctx.scope]
  // A copy of the shared system message: hooks may edit the request's messages in place.
  const messages = view.system ? [{ ...view.system }, ...input.messages] : input.messages.slice()
  if (!input.tools || input.tools.length === 0) {
    return { messages, tools: view.tools.length > 0 ? view.tools : undefined, external: null }
  }
  // A client tool with the same name as an internal one wins for this request.
  const external = new Set(input.tools.map((t) => t.function.name))
  const tools = [...view.tools.filter((t) => !external.has(t.function.name)), ...input.tools]
  return { messages, tools, external }
}

/** The model request the loop's first turn would send for `input` (before hooks): for counting its tokens. */
export function firstModelRequest(agent: BuiltAgent, ctx: Context, input: AgentInput): ModelRequest {
  const conversation = prepare(agent, ctx, input)
  return { model: agent.targets[0]!.model, messages: conversation.messages, tools: conversation.tools, params: input.params }
}

function addUsage(total: Usage, usage: Usage | undefined): void {
  if (!usage) return
  total.prompt_tokens += usage.prompt_tokens ?? 0
  total.completion_tokens += usage.completion_tokens ?? 0
  total.total_tokens += usage.total_tokens ?? (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0)
}

/**
 * One model call's answer, added up from its deltas as they come; each delta is told to the sink as events.
 * Its methods answer a promise only when the sink asks to be waited for (a client reading slower than the
 * model writes): a 50-chunk stream otherwise pays no async hop per chunk.
 */
class TurnAnswer {
  content = ''
  refusal = ''
  reasoning = ''
  readonly calls: ToolCall[] = []
  finish: FinishReason | null = null
  stopSequence: string | undefined = undefined
  usage: Usage | undefined = undefined
  /** The model-start event went out. */
  #started = false
  #waits: Array<Promise<void>> | null = null
  readonly #turn: number
  readonly #sink: AgentEventSink
  readonly #external: Set<string> | null

  constructor(turn: number, sink: AgentEventSink, external: Set<string> | null) {
    this.#turn = turn
    this.#sink = sink
    this.#external = external
  }

  take(delta: ModelDelta, target: ModelTarget): void | Promise<void> {
    // The hot path of a stream: a piece of text, once the model has started.
    if (this.#started && delta.content && delta.tool_calls === undefined && !delta.refusal && !delta.reasoning) {
      this.content += delta.content
      if (delta.finish_reason) this.#finish(delta)
      if (delta.usage) this.usage = delta.usage
      return this.#sink({ type: 'text-delta', text: delta.content })
    }
    return this.#takeAll(delta, target)
  }

  #finish(delta: ModelDelta): void {
    this.finish = delta.finish_reason!
    if (delta.stop_sequence !== undefined) this.stopSequence = delta.stop_sequence
  }

  #emit(event: AgentEvent): void {
    const wait = this.#sink(event)
    if (wait) (this.#waits ??= []).push(wait)
  }

  #takeAll(delta: ModelDelta, target: ModelTarget): void | Promise<void> {
    // The model has started answering: it said so (an empty delta), or its first text came.
    if (!this.#started && (delta.content || delta.reasoning || delta.refusal || isEmpty(delta))) {
      this.#started = true
      this.#emit({ type: 'model-start', turn: this.#turn, model: target.id })
    }
    if (delta.reasoning) {
      this.reasoning += delta.reasoning
      this.#emit({ type: 'reasoning-delta', text: delta.reasoning })
    }
    if (delta.content) {
      this.content += delta.content
      this.#emit({ type: 'text-delta', text: delta.content })
    }
    if (delta.refusal) {
      this.refusal += delta.refusal
      this.#emit({ type: 'refusal-delta', text: delta.refusal })
    }
    if (delta.tool_calls) for (const part of delta.tool_calls) this.#takeCall(part)
    if (delta.finish_reason) this.#finish(delta)
    if (delta.usage) this.usage = delta.usage
    const waits = this.#waits
    if (waits === null) return undefined
    this.#waits = null
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => undefined)
  }

  #takeCall(part: ToolCallDelta): void {
    let slot = this.calls[part.index]
    const fresh = slot === undefined
    slot ??= this.calls[part.index] = { id: '', type: 'function', function: { name: '', arguments: '' } }
    if (part.id) slot.id = part.id
    if (part.function?.name && !slot.function.name) slot.function.name = part.function.name
    if (fresh) {
      const external = this.#external?.has(slot.function.name) ?? false
      this.#emit({ type: 'tool-call-start', index: part.index, id: slot.id, name: slot.function.name, external })
    }
    if (part.function?.arguments) {
      slot.function.arguments += part.function.arguments
      this.#emit({ type: 'tool-call-delta', index: part.index, arguments: part.function.arguments })
    }
  }
}

function isEmpty(delta: ModelDelta): boolean {
  return delta.tool_calls === undefined && delta.finish_reason === undefined && delta.usage === undefined
}

/** The turn's message: what the model said, in the shape Chat Completions gives an assistant message. */
function messageOf(answer: TurnAnswer, calls: ToolCall[]): AssistantMessage {
  const message: AssistantMessage = { role: 'assistant', content: answer.content || null }
  if (calls.length > 0) message.tool_calls = calls
  if (answer.refusal) message.refusal = answer.refusal
  if (answer.reasoning) message.reasoning = answer.reasoning
  return message
}

function limitText(agent: BuiltAgent): string {
  return `The agent stopped after ${agent.maxIterations} model calls (maxIterations) without a final answer.`
}

/** The answer the run ends with when the model gives one without tool calls. */
function textAnswer(message: AssistantMessage): AssistantMessage {
  const answer: AssistantMessage = { role: 'assistant', content: message.content ?? '', refusal: message.refusal ?? null }
  if (message.reasoning) answer.reasoning = message.reasoning
  return answer
}

function splitCalls(calls: ToolCall[], external: Set<string> | null): { internal: ToolCall[]; outside: ToolCall[] } {
  if (!external) return { internal: calls, outside: [] }
  const internal: ToolCall[] = []
  const outside: ToolCall[] = []
  for (const call of calls) (external.has(call.function.name) ? outside : internal).push(call)
  return { internal, outside }
}

/** Runs a mixed turn's internal calls for a surface that keeps their results (AgentInput.keepInternalResults). */
async function runKept(agent: BuiltAgent, ctx: Context, calls: ToolCall[], sink: AgentEventSink, deps: RuntimeDeps): Promise<void> {
  const results = await runToolCalls(agent, ctx, calls, deps)
  for (let i = 0; i < calls.length; i++) {
    const call = calls[i]!
    const result = results[i]!
    await sink({ type: 'tool-result', callId: call.id, name: call.function.name, content: result.content, error: result.error === true })
  }
}

/**
 * Runs an agent on one conversation, telling `sink` what happens; resolves to the answer. Hooks (beforeLlmCall,
 * afterLlmCall, beforeToolCall, afterToolCall, onMessage), scopes, tool limits, the request's abort and usage all
 * live here, so every surface gets them. A turn that calls a client tool ends the run with those calls and runs
 * none of the turn's internal ones (the model is asked again once the client answers).
 */
export async function runAgent(agent: BuiltAgent, ctx: Context, input: AgentInput, sink: AgentEventSink, deps: RuntimeDeps): Promise<AgentResult> {
  const conversation = prepare(agent, ctx, input)
  const answering = { target: agent.targets[0]! }
  let final: { message: AssistantMessage; finish: FinishReason; stopSequence?: string } | null = null
  for (let turn = 0; turn < agent.maxIterations && final === null; turn++) {
    const request: ModelRequest = { model: '', messages: conversation.messages, tools: conversation.tools, params: input.params }
    if (agent.hooks.beforeLlmCall.length > 0) await runHooks(agent.hooks.beforeLlmCall, ctx, request)
    const answer = new TurnAnswer(turn, sink, conversation.external)
    for await (const delta of callModel(agent, ctx, request, deps, input.stream, answering)) {
      // Providers need not watch the signal: stop reading one whose client has gone.
      if (ctx.aborted) throw ctx.abortReason
      const wait = answer.take(delta, answering.target)
      if (wait) await wait
    }
    addUsage(ctx.usage, answer.usage)
    const calls = answer.calls.filter(Boolean)
    const response: ModelResponse = {
      message: messageOf(answer, calls),
      finish_reason: answer.finish ?? (calls.length > 0 ? 'tool_calls' : 'stop'),
      usage: answer.usage,
    }
    if (agent.hooks.afterLlmCall.length > 0) await runHooks(agent.hooks.afterLlmCall, ctx, response)
    const { message } = response
    const model = answering.target.id
    const made = message.tool_calls ?? []
    for (const call of made) await sink({ type: 'tool-call', call, external: conversation.external?.has(call.function.name) ?? false })
    if (response.usage) {
      const wait = sink({ type: 'usage', turn, model, usage: response.usage })
      if (wait) await wait
    }
    const wait = sink({ type: 'turn-end', turn, model, message, finishReason: response.finish_reason })
    if (wait) await wait
    if (made.length === 0) {
      final = { message: textAnswer(message), finish: response.finish_reason === 'tool_calls' ? 'stop' : response.finish_reason }
      if (answer.stopSequence !== undefined && final.finish === 'stop') final.stopSequence = answer.stopSequence
      break
    }
    const { internal, outside } = splitCalls(made, conversation.external)
    if (outside.length > 0) {
      final = { message: { role: 'assistant', content: message.content ?? null, tool_calls: outside, refusal: null }, finish: 'tool_calls' }
      // A surface that keeps state runs the turn's internal calls too: their results (told as tool-result events)
      // become part of what it stores, and the client answers only its own calls.
      if (input.keepInternalResults === true && internal.length > 0) await runKept(agent, ctx, internal, sink, deps)
      break
    }
    const results = await runToolCalls(agent, ctx, internal, deps)
    conversation.messages.push({ role: 'assistant', content: message.content ?? null, tool_calls: internal })
    for (let i = 0; i < internal.length; i++) {
      const call = internal[i]!
      const result = results[i]!
      conversation.messages.push({ role: 'tool', tool_call_id: call.id, content: result.content })
      await sink({ type: 'tool-result', callId: call.id, name: call.function.name, content: result.content, error: result.error === true })
    }
  }
  if (final === null) {
    final = { message: { role: 'assistant', content: limitText(agent), refusal: null }, finish: 'length' }
    await sink({ type: 'text-delta', text: final.message.content! })
  }
  if (agent.hooks.onMessage.length > 0) await runHooks(agent.hooks.onMessage, ctx, final.message)
  const result: AgentResult = { message: final.message, finishReason: final.finish, usage: ctx.usage, model: answering.target.id }
  if (final.stopSequence !== undefined) result.stopSequence = final.stopSequence
  const wait = sink({ type: 'final', ...result })
  if (wait) await wait
  return result
}
