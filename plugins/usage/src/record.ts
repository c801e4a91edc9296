// One model call's usage, as metered: what every store keeps and every report adds up.
import type { KernelEventMap, Usage } from '@robutler/kernel'
import type { Price } from './config.js'

export interface UsageRecord {
  /** `<request id>/<n>`: unique per model call, the key that makes writes and counter updates idempotent. */
  id: string
  /** Epoch ms (a number: a Date per call costs the hot path). */
  time: number
  requestId: string
  agent: string
  /** The model string that answered (`openai/gpt-4o`): a fallback's when the primary failed. */
  model: string
  userId: string | null
  keyId: string | null
  surface: string
  promptTokens: number
  completionTokens: number
  cachedTokens: number
  reasoningTokens: number
  /** Null when the model has no price. */
  cost: number | null
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0
}

/** Cached prompt and reasoning tokens, as OpenAI's usage details (and the providers mapped onto them) give them. */
export function detailTokens(usage: Usage): { cached: number; reasoning: number } {
  const prompt = usage.prompt_tokens_details as { cached_tokens?: unknown } | undefined
  const completion = usage.completion_tokens_details as { reasoning_tokens?: unknown } | undefined
  return { cached: count(prompt?.cached_tokens), reasoning: count(completion?.reasoning_tokens) }
}

export function priceOf(price: Required<Price>, prompt: number, completion: number, cached: number): number {
  const fresh = Math.max(0, prompt - cached)
  return (fresh * price.input + cached * price.cachedInput + completion * price.output) / price.per
}

export function recordOf(event: KernelEventMap['llm:end'], usage: Usage, id: string, model: string, price: Required<Price> | undefined): UsageRecord {
  const prompt = count(usage.prompt_tokens)
  const completion = count(usage.completion_tokens)
  const { cached, reasoning } = detailTokens(usage)
  return {
    id,
    time: Date.now(),
    requestId: event.requestId,
    agent: event.agent,
    model,
    userId: event.userId,
    keyId: event.keyId,
    surface: event.surface,
    promptTokens: prompt,
    completionTokens: completion,
    cachedTokens: cached,
    reasoningTokens: reasoning,
    cost: price === undefined ? null : priceOf(price, prompt, completion, cached),
  }
}
