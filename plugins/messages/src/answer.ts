// A whole answer as a Messages API `message` object.
import { toAnthropicContent, toAnthropicUsage, toStopReason } from '@robutler/anthropic-mapping'
import type { AgentResult } from '@robutler/kernel'

/**
 * The message for a run's result: content blocks (thinking, text, `tool_use` for the client's tools), why it
 * stopped, and usage (cache fields 0 where the provider gave none).
 */
export function messageOf(result: AgentResult, id: string): Record<string, unknown> {
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: result.model,
    content: toAnthropicContent(result.message),
    ...toStopReason(result.finishReason, result.stopSequence),
    usage: toAnthropicUsage(result.usage),
  }
}
