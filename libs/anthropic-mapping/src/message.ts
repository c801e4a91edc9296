// An answer: an Anthropic Message ↔ the kernel's OpenAI-shaped assistant message. A provider reads the first
// direction (fromAnthropicMessage), a surface writes the second (toAnthropicContent).
import type Anthropic from '@anthropic-ai/sdk'
import type { AssistantMessage, ModelResponse, ToolCall } from '@robutler/kernel'
import { toToolArguments, toToolInput } from './content.js'
import { mapStopReason } from './stop-reason.js'
import { fromAnthropicUsage } from './usage.js'

/**
 * One whole model turn from a Message: text blocks joined into `content` (null when there are none), `tool_use`
 * blocks as `tool_calls` with their input as a JSON string, thinking blocks joined into `reasoning`, and the
 * stop sequence that ended it. Other blocks (redacted thinking, server tools) have no OpenAI counterpart and are
 * left out.
 */
export function fromAnthropicMessage(message: Pick<Anthropic.Message, 'content' | 'stop_reason' | 'usage'> & { stop_sequence?: string | null }): ModelResponse {
  let text: string | null = null
  let reasoning = ''
  const calls: ToolCall[] = []
  for (const block of message.content) {
    if (block.type === 'text') text = (text ?? '') + block.text
    else if (block.type === 'thinking') reasoning += block.thinking
    else if (block.type === 'tool_use') {
      calls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: toToolArguments(block.input) } })
    }
  }
  const response: ModelResponse = {
    message: { role: 'assistant', content: text },
    finish_reason: mapStopReason(message.stop_reason),
    usage: fromAnthropicUsage(message.usage),
  }
  if (calls.length > 0) response.message.tool_calls = calls
  if (reasoning) response.message.reasoning = reasoning
  if (message.stop_reason === 'stop_sequence' && typeof message.stop_sequence === 'string') response.stop_sequence = message.stop_sequence
  return response
}

/** A content block of an answer, as a Messages API client reads it. */
export type AnswerBlock =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'text'; text: string; citations: null }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }

/**
 * The content blocks of an answer, the reverse of fromAnthropicMessage: `reasoning` as a thinking block (with an
 * empty signature: it was not signed by Anthropic, and is not sent back to a model), the text (or refusal) as a
 * text block, each tool call as a `tool_use` block whose input is the parsed arguments.
 */
export function toAnthropicContent(message: AssistantMessage): AnswerBlock[] {
  const blocks: AnswerBlock[] = []
  if (message.reasoning) blocks.push({ type: 'thinking', thinking: message.reasoning, signature: '' })
  const text = message.content || message.refusal
  if (text) blocks.push({ type: 'text', text, citations: null })
  for (const call of message.tool_calls ?? []) {
    blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input: toToolInput(call.function.arguments) })
  }
  return blocks
}
