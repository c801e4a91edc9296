// OpenAI wire objects → the kernel's ModelResponse and ModelDelta. Fields the kernel has no place for are dropped.
import type { FinishReason, ModelDelta, ModelResponse, ToolCall, ToolCallDelta, Usage } from '@robutler/kernel'
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions'

/** A whole completion's first choice. */
export function toResponse(completion: ChatCompletion): ModelResponse {
  const choice = completion.choices?.[0]
  if (choice === undefined) throw new Error(`the upstream completion '${completion.id}' has no choices`)
  const message = choice.message
  const toolCalls = message.tool_calls && message.tool_calls.length > 0 ? (message.tool_calls as ToolCall[]) : undefined
  return {
    message: { role: 'assistant', content: message.content ?? null, tool_calls: toolCalls, refusal: message.refusal ?? null },
    // OpenAI-compatible servers sometimes leave it null on a whole answer.
    finish_reason: (choice.finish_reason ?? (toolCalls ? 'tool_calls' : 'stop')) as FinishReason,
    usage: (completion.usage ?? undefined) as Usage | undefined,
  }
}

function toolCallDeltas(parts: ChatCompletionChunk.Choice.Delta.ToolCall[]): ToolCallDelta[] {
  // Some OpenAI-compatible servers omit `index`; the position in the chunk is the best guess then.
  let complete = true
  for (const part of parts) if (typeof part.index !== 'number') complete = false
  if (complete) return parts as ToolCallDelta[]
  return parts.map((part, i) => ({ ...part, index: typeof part.index === 'number' ? part.index : i }) as ToolCallDelta)
}

/**
 * One chunk as a delta, or null when it carries nothing the kernel uses (the role-only first chunk, an empty
 * content piece): the kernel times the first token from the first delta.
 */
export function toDelta(chunk: ChatCompletionChunk): ModelDelta | null {
  let delta: ModelDelta | null = null
  const choice = chunk.choices?.[0]
  if (choice !== undefined) {
    const part = choice.delta
    if (part?.content) delta = { content: part.content }
    if (part?.refusal) (delta ??= {}).refusal = part.refusal
    if (part?.tool_calls && part.tool_calls.length > 0) (delta ??= {}).tool_calls = toolCallDeltas(part.tool_calls)
    if (choice.finish_reason) (delta ??= {}).finish_reason = choice.finish_reason as FinishReason
    // The role chunk: the model has started answering.
    if (delta === null && part?.role) delta = {}
  }
  if (chunk.usage) (delta ??= {}).usage = chunk.usage as Usage
  return delta
}
