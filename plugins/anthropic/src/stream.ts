// Anthropic's raw stream events → the kernel's ModelDeltas (OpenAI chunk choices, flattened).
import { APIError } from '@anthropic-ai/sdk'
import type Anthropic from '@anthropic-ai/sdk'
import type { FinishReason, ModelDelta } from '@robutler/kernel'
import { fromAnthropicUsage, mapStopReason, type AnthropicUsage } from '@robutler/anthropic-mapping'

/** A raw event, or anything else an SSE stream may carry (`error`, `ping`, types added later). */
type StreamEvent = Anthropic.RawMessageStreamEvent | { type: string; [key: string]: unknown }

/**
 * Maps a raw Messages API event stream to deltas: text → `content`, thinking → `reasoning`; each `tool_use` block → a tool-call delta
 * whose `index` counts tool_use blocks in this message (0, 1, …; not the content block index, which text and
 * thinking blocks share), then its `input_json_delta`s as argument fragments under the same index; the end →
 * one delta with `finish_reason`, `usage` (input tokens from message_start, output from message_delta) and the
 * `stop_sequence` that stopped it,
 * yielded at message_stop. An `error` event throws; a stream that ends without message_stop throws, unless
 * `signal` was aborted, which throws its reason.
 * @example
 * const events = await client.messages.create({ ...body, stream: true }, { signal })
 * for await (const delta of fromAnthropicStream(events, signal)) …
 */
export async function* fromAnthropicStream(events: AsyncIterable<StreamEvent>, signal?: AbortSignal): AsyncGenerator<ModelDelta> {
  const toolIndex = new Map<number, number>()
  const usage: AnthropicUsage = {}
  let finish: FinishReason | null = null
  let stopSequence: string | null = null
  for await (const event of events) {
    switch (event.type) {
      case 'message_start': {
        const start = event as Anthropic.RawMessageStartEvent
        Object.assign(usage, pickUsage(start.message.usage))
        yield {} // the model has started answering
        break
      }
      case 'content_block_start': {
        const { index, content_block: block } = event as Anthropic.RawContentBlockStartEvent
        if (block.type === 'tool_use') {
          const n = toolIndex.size
          toolIndex.set(index, n)
          yield { tool_calls: [{ index: n, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }] }
        } else if (block.type === 'text' && block.text) {
          yield { content: block.text }
        } else if (block.type === 'thinking' && block.thinking) {
          yield { reasoning: block.thinking }
        }
        break
      }
      case 'content_block_delta': {
        const { index, delta } = event as Anthropic.RawContentBlockDeltaEvent
        if (delta.type === 'text_delta') {
          if (delta.text) yield { content: delta.text }
        } else if (delta.type === 'thinking_delta') {
          if (delta.thinking) yield { reasoning: delta.thinking }
        } else if (delta.type === 'input_json_delta') {
          const n = toolIndex.get(index)
          if (n !== undefined && delta.partial_json) yield { tool_calls: [{ index: n, function: { arguments: delta.partial_json } }] }
        }
        break
      }
      case 'message_delta': {
        const { delta, usage: more } = event as Anthropic.RawMessageDeltaEvent
        if (delta.stop_reason) finish = mapStopReason(delta.stop_reason)
        if (delta.stop_reason === 'stop_sequence' && typeof delta.stop_sequence === 'string') stopSequence = delta.stop_sequence
        Object.assign(usage, pickUsage(more))
        break
      }
      case 'message_stop': {
        const end: ModelDelta = { finish_reason: finish ?? 'stop', usage: fromAnthropicUsage(usage) }
        if (stopSequence !== null) end.stop_sequence = stopSequence
        yield end
        return
      }
      case 'error':
        // The SDK throws on `event: error` itself; this covers an error payload under another event name.
        throw new APIError(undefined, event, undefined, undefined)
      default:
        // content_block_stop, ping, signature and citation deltas, and event types added later: nothing to say.
        break
    }
  }
  // The SDK ends the iteration quietly when its request is aborted: say why instead of looking finished.
  signal?.throwIfAborted()
  throw new Error('anthropic: the event stream ended before message_stop')
}

/** The counts a usage object sets (message_delta repeats only the non-null ones). */
function pickUsage(usage: AnthropicUsage | null | undefined): AnthropicUsage {
  const picked: AnthropicUsage = {}
  if (!usage) return picked
  for (const key of ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const) {
    if (typeof usage[key] === 'number') picked[key] = usage[key]
  }
  return picked
}
