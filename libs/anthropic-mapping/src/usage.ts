// Token counts: Anthropic's usage ↔ OpenAI's. Anthropic counts prompt-cache reads and writes apart from
// `input_tokens`; OpenAI's prompt_tokens include them (cached reads in prompt_tokens_details.cached_tokens).
import type { Usage } from '@robutler/kernel'

/** The token counts of an Anthropic usage object (whole or from message_start/message_delta). */
export interface AnthropicUsage {
  input_tokens?: number | null
  output_tokens?: number | null
  cache_creation_input_tokens?: number | null
  cache_read_input_tokens?: number | null
}

/**
 * OpenAI usage from Anthropic usage: prompt tokens include tokens written to and read from the prompt cache.
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
 * Anthropic usage from OpenAI usage: cached prompt tokens (`prompt_tokens_details.cached_tokens`) as cache reads,
 * the rest as `input_tokens`; cache writes are unknown to OpenAI usage, so 0.
 * @example
 * toAnthropicUsage({ prompt_tokens: 100, completion_tokens: 5, total_tokens: 105, prompt_tokens_details: { cached_tokens: 90 } })
 * // { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 90 }
 */
export function toAnthropicUsage(usage: Usage | null | undefined): Required<{ [K in keyof AnthropicUsage]: number }> {
  const prompt = usage?.prompt_tokens ?? 0
  const details = usage?.prompt_tokens_details as { cached_tokens?: unknown } | undefined
  const cached = typeof details?.cached_tokens === 'number' ? Math.min(details.cached_tokens, prompt) : 0
  return { input_tokens: prompt - cached, output_tokens: usage?.completion_tokens ?? 0, cache_creation_input_tokens: 0, cache_read_input_tokens: cached }
}
