// An Anthropic Message (or its parts: stop reason, usage) → the kernel's OpenAI-shaped ModelResponse.
import type Anthropic from '@anthropic-ai/sdk'
import type { FinishReason, ModelResponse, ToolCall, Usage } from '@robutler/kernel'

const FINISH: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  refusal: 'content_filter',
  // Only server tools pause a turn; this provider sends none, so a pause is as final as it gets.
  pause_turn: 'stop',
}

/**
 * OpenAI's finish_reason for an Anthropic stop_reason; an unknown or missing reason is `stop`.
 * @example
 * mapStopReason('tool_use') // 'tool_calls'
 */
export function mapStopReason(reason: string | null | undefined): FinishReason {
  return (reason != null && FINISH[reason]) || 'stop'
}

/** The token counts of an Anthropic usage object (whole or from message_start/message_delta). */
export interface AnthropicUsage {
  input_tokens?: number | null
  output_tokens?: number | null
  cache_creation_input_tokens?: number | null
  cache_read_input_tokens?: number | null
}

/**
 * OpenAI usage from Anthropic usage: prompt tokens include tokens written to and read from the prompt cache
 * (Anthropic counts those apart from `input_tokens`).
 * @example
 * fromAnthropicUsage({ input_tokens: 10, cache_read_input_tokens: 90, output_tokens: 5 })
 * // { prompt_tokens: 100, completion_tokens: 5, total_tokens: 105 }
 */
export function fromAnthropicUsage(usage: AnthropicUsage | null | undefined): Usage {
  const prompt = (usage?.input_tokens ?? 0) + (usage?.cache_creation_input_tokens ?? 0) + (usage?.cache_read_input_tokens ?? 0)
  const completion = usage?.output_tokens ?? 0
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
}

/**
 * One whole model turn from a Message: text blocks joined into `content` (null when there are none),
 * `tool_use` blocks as `tool_calls` with their input as a JSON string. Other blocks (thinking, server tools)
 * have no OpenAI counterpart and are left out.
 */
export function fromAnthropicMessage(message: Pick<Anthropic.Message, 'content' | 'stop_reason' | 'usage'>): ModelResponse {
  let text: string | null = null
  const calls: ToolCall[] = []
  for (const block of message.content) {
    if (block.type === 'text') text = (text ?? '') + block.text
    else if (block.type === 'tool_use') {
      calls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } })
    }
  }
  const response: ModelResponse = {
    message: { role: 'assistant', content: text },
    finish_reason: mapStopReason(message.stop_reason),
    usage: fromAnthropicUsage(message.usage),
  }
  if (calls.length > 0) response.message.tool_calls = calls
  return response
}
