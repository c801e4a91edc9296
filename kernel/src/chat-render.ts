// Chat Completions as an adapter of the agent loop's events: one chat.completion object collected from the run,
// or chat.completion.chunk SSE frames written as the events come.
import type { AgentEvent, AgentResult } from './agent-events.js'
import type { BuiltAgent } from './agent-build.js'
import { errorBody } from './errors.js'
import { runHooks } from './hooks.js'
import type { Context } from './request-context.js'
import type { SseStream } from './sse.js'
import type { AssistantMessage, FinishReason, Usage } from './types.js'

const DONE = 'data: [DONE]\n\n'

/** The message of a chat answer: Chat Completions has no field for reasoning. */
function chatMessage(message: AssistantMessage): Record<string, unknown> {
  const { content, tool_calls } = message
  const refusal = message.refusal ?? null
  return tool_calls ? { role: 'assistant', content, tool_calls, refusal } : { role: 'assistant', content, refusal }
}

/** The whole answer, as an OpenAI chat.completion object. */
export function chatCompletion(result: AgentResult, id: string): Record<string, unknown> {
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: result.model,
    choices: [{ index: 0, message: chatMessage(result.message), logprobs: null, finish_reason: result.finishReason }],
    usage: result.usage,
    system_fingerprint: null,
  }
}

interface ChunkHead {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
}

/**
 * Writes a run as chat.completion.chunk frames: the role first, one id/created/model for all, external tool calls
 * and the finish reason at the end, a usage chunk when asked, then [DONE]. onChunk hooks see (and may change) each
 * whole chunk. The first frame, and so the headers, goes out when the model starts answering: a turn that opens
 * with tool calls keeps them back, so a full pool is still a plain 503.
 */
export class ChatChunks {
  readonly #agent: BuiltAgent
  readonly #ctx: Context
  readonly #sse: SseStream
  readonly #includeUsage: boolean
  readonly #head: ChunkHead
  /** The head serialised once, without its closing brace: each chunk serialises only its choice. */
  #prefix = ''
  #roleSent = false

  constructor(agent: BuiltAgent, ctx: Context, sse: SseStream, id: string, includeUsage: boolean) {
    this.#agent = agent
    this.#ctx = ctx
    this.#sse = sse
    this.#includeUsage = includeUsage
    this.#head = { id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: agent.config.model }
  }

  /**
   * One event of the run, as chunks. (Pass it as `(event) => chunks.event(event)`: a closure made here and kept
   * on the instance made V8 pretenure these per-request objects, and a scavenge then kept every stream's young
   * objects alive — 2.5x the GC time per stream, measured.)
   */
  event(event: AgentEvent): Promise<void> | undefined {
    switch (event.type) {
      case 'text-delta':
        return this.#content(event.text)
      case 'model-start':
        // Only the first turn's start goes out early: later turns follow tool calls the client never sees.
        if (event.turn !== 0 || this.#roleSent) return undefined
        this.#head.model = event.model
        return this.#start()
      case 'turn-end':
        if (event.turn === 0 && !this.#roleSent) this.#head.model = event.model
        return undefined
      case 'refusal-delta':
        return this.#delta({ refusal: event.text })
      case 'final':
        return this.#final(event.message, event.finishReason, event.usage)
      case 'error':
        if (!this.#sse.started) return undefined
        this.#sse.write(`data: ${JSON.stringify(errorBody(event.error))}\n\n`)
        this.#sse.end(DONE)
        return undefined
      default:
        return undefined
    }
  }

  async #final(message: AssistantMessage, finish: FinishReason, usage: Usage): Promise<void> {
    if (finish === 'tool_calls') {
      const calls = message.tool_calls ?? []
      for (let index = 0; index < calls.length; index++) {
        const { id, function: fn } = calls[index]!
        await this.#delta({ tool_calls: [{ index, id, type: 'function', function: { name: fn.name, arguments: fn.arguments } }] })
      }
    }
    await this.#delta({}, finish)
    if (this.#includeUsage) await this.#send(null, usage)
    this.#sse.end(DONE)
  }

  // The chunk path returns a promise only when it must wait (hooks, or a client reading slower than we write).
  #send(choice: Record<string, unknown> | null, usage?: Usage): Promise<void> | undefined {
    if (choice !== null && this.#agent.hooks.onChunk.length === 0) return this.#choiceJson(JSON.stringify(choice))
    return this.#sendWithHooks(choice, usage)
  }

  async #sendWithHooks(choice: Record<string, unknown> | null, usage?: Usage): Promise<void> {
    const chunk: Record<string, unknown> = choice ? { ...this.#head, choices: [choice] } : { ...this.#head, choices: [], usage }
    const hooks = this.#agent.hooks.onChunk
    if (hooks.length > 0) await runHooks(hooks, this.#ctx, chunk)
    await this.#sse.write(`data: ${JSON.stringify(chunk)}\n\n`)
  }

  #choiceJson(choice: string): Promise<void> | undefined {
    if (this.#prefix === '') this.#prefix = `data: ${JSON.stringify(this.#head).slice(0, -1)},"choices":[`
    return this.#sse.write(`${this.#prefix}${choice}]}\n\n`)
  }

  /** The first chunk (the role) if it has not gone out yet. */
  #start(): Promise<void> | undefined {
    if (this.#roleSent) return undefined
    this.#roleSent = true
    return this.#send({ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null })
  }

  #delta(delta: Record<string, unknown>, finish: FinishReason | null = null): Promise<void> | undefined {
    const choice = { index: 0, delta, logprobs: null, finish_reason: finish }
    if (this.#roleSent) return this.#send(choice)
    const wait = this.#start()
    return wait ? wait.then(() => this.#send(choice)) : this.#send(choice)
  }

  /** A content delta: the hot path of a stream, serialised without building the choice object. */
  #content(text: string): Promise<void> | undefined {
    if (!this.#roleSent || this.#agent.hooks.onChunk.length > 0) return this.#delta({ content: text })
    return this.#choiceJson(`{"index":0,"delta":{"content":${JSON.stringify(text)}},"logprobs":null,"finish_reason":null}`)
  }
}
