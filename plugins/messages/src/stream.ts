// A run as Messages API server-sent events: message_start, content blocks (thinking, text, then the client's
// tool_use blocks) with their deltas, message_delta (stop reason, usage), message_stop; `ping` while the agent
// works; an `error` event when the run fails after the first byte.
import { toAnthropicUsage, toStopReason } from '@robutler/anthropic-mapping'
import type { AgentEvent, SseStream } from '@robutler/kernel'
import { anthropicError } from './errors.js'

type BlockKind = 'text' | 'thinking'

const PING = 'event: ping\ndata: {"type":"ping"}\n\n'
const MESSAGE_STOP = 'event: message_stop\ndata: {"type":"message_stop"}\n\n'

function frame(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
}

/**
 * Writes one run as Messages API events. The first frame, and so the headers, goes out when the model starts
 * answering (or a keepalive ping is due): until then a failure is still a plain HTTP error. `writes` counts the
 * frames written, for the keepalive sweep.
 */
export class MessageStream {
  readonly #sse: SseStream
  readonly #id: string
  #model: string
  #started = false
  #ended = false
  /** The open content block's kind, or null. */
  #open: BlockKind | null = null
  /** The open block's index; the next block gets the one after. */
  #index = -1
  /** `event: content_block_delta` up to the text of the open text block, built once per block. */
  #textPrefix = ''
  /** Frames written (a ping is due when a sweep finds this unchanged). */
  writes = 0
  /** `writes` at the keepalive's last sweep (-1: not swept yet). */
  seen = -1

  constructor(sse: SseStream, id: string, model: string) {
    this.#sse = sse
    this.#id = id
    this.#model = model
  }

  /** One event of the run. (Pass it as `(event) => stream.event(event)`, as the chat stream is.) */
  event(event: AgentEvent): Promise<void> | undefined {
    switch (event.type) {
      case 'text-delta':
      case 'refusal-delta':
        return this.#delta('text', event.text)
      case 'reasoning-delta':
        return this.#delta('thinking', event.text)
      case 'model-start':
        // Only the first turn's start goes out early: later turns follow tool calls the client never sees.
        if (event.turn !== 0 || this.#started) return undefined
        this.#model = event.model
        return this.#write('')
      case 'turn-end':
        // A turn that called tools ends its blocks: the next turn's text is a block of its own.
        if (this.#open !== null) return this.#write(this.#close())
        return undefined
      case 'final':
        return this.#final(event)
      case 'error':
        if (!this.#sse.started) return undefined
        this.#ended = true
        this.#sse.end(`event: error\ndata: ${JSON.stringify({ type: 'error', error: anthropicError(event.error) })}\n\n`)
        return undefined
      default:
        return undefined
    }
  }

  /** A keepalive ping (starting the stream if it has not started: the agent is at work). */
  ping(): void {
    if (this.#ended) return
    void this.#write(PING)
  }

  /** Writes frames, the message_start first when the stream has not started yet. */
  #write(frames: string): Promise<void> | undefined {
    if (this.#ended) return undefined
    this.writes++
    if (this.#started) return this.#sse.write(frames)
    this.#started = true
    const usage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }
    const message = { id: this.#id, type: 'message', role: 'assistant', model: this.#model, content: [], stop_reason: null, stop_sequence: null, usage }
    return this.#sse.write(frame('message_start', { message }) + frames)
  }

  /** The content_block_stop of the open block ('' when none is open). */
  #close(): string {
    if (this.#open === null) return ''
    this.#open = null
    return frame('content_block_stop', { index: this.#index })
  }

  #delta(kind: BlockKind, text: string): Promise<void> | undefined {
    if (this.#open === 'text' && kind === 'text') return this.#write(`${this.#textPrefix}${JSON.stringify(text)}}}\n\n`)
    let frames = ''
    if (this.#open !== kind) {
      frames += this.#close()
      this.#open = kind
      this.#index++
      const block = kind === 'text' ? { type: 'text', text: '', citations: null } : { type: 'thinking', thinking: '', signature: '' }
      frames += frame('content_block_start', { index: this.#index, content_block: block })
      if (kind === 'text') this.#textPrefix = `event: content_block_delta\ndata: {"type":"content_block_delta","index":${this.#index},"delta":{"type":"text_delta","text":`
    }
    const delta = kind === 'text' ? { type: 'text_delta', text } : { type: 'thinking_delta', thinking: text }
    return this.#write(frames + frame('content_block_delta', { index: this.#index, delta }))
  }

  /** The client's tool calls as tool_use blocks (their whole input in one delta), the stop reason, the end. */
  #final(event: Extract<AgentEvent, { type: 'final' }>): Promise<void> | undefined {
    let frames = this.#close()
    if (event.finishReason === 'tool_calls') {
      for (const call of event.message.tool_calls ?? []) {
        const index = ++this.#index
        frames += frame('content_block_start', { index, content_block: { type: 'tool_use', id: call.id, name: call.function.name, input: {} } })
        const json = call.function.arguments.trim() === '' ? '{}' : call.function.arguments
        frames += frame('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json } })
        frames += frame('content_block_stop', { index })
      }
    }
    const delta = toStopReason(event.finishReason, event.stopSequence)
    frames += frame('message_delta', { delta, usage: toAnthropicUsage(event.usage) }) + MESSAGE_STOP
    const wait = this.#write(frames)
    this.#ended = true
    this.#sse.end()
    return wait
  }
}
