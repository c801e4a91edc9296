// Thinking: Anthropic's `thinking` (a token budget) ↔ OpenAI's `reasoning_effort` (a level), the reasoning
// request every provider of the kernel understands. One table gives both directions.
import type Anthropic from '@anthropic-ai/sdk'

export type ReasoningEffort = 'low' | 'medium' | 'high'

/** The thinking budget each effort asks of an Anthropic model; a budget maps back to the nearest level below it. */
export const THINKING_BUDGETS: Readonly<Record<ReasoningEffort, number>> = { low: 1024, medium: 8192, high: 32768 }
/** The Messages API's smallest thinking budget. */
const MIN_BUDGET = 1024

/**
 * The reasoning effort a `thinking` config asks for: `enabled` with a budget → the level whose budget it reaches
 * (below medium's: low); `adaptive` lets the model decide, and `disabled` asks for none: no effort either way.
 * @example
 * fromThinking({ type: 'enabled', budget_tokens: 10000 }) // 'medium'
 */
export function fromThinking(thinking: unknown): ReasoningEffort | undefined {
  const t = thinking as { type?: unknown; budget_tokens?: unknown } | null | undefined
  if (t?.type !== 'enabled' || typeof t.budget_tokens !== 'number') return undefined
  if (t.budget_tokens >= THINKING_BUDGETS.high) return 'high'
  if (t.budget_tokens >= THINKING_BUDGETS.medium) return 'medium'
  return 'low'
}

/**
 * The `thinking` config for an OpenAI `reasoning_effort`, within `maxTokens` (the API wants the budget below
 * it): `minimal` and `none` ask for no thinking, as does a max_tokens too small for the smallest budget.
 * @example
 * toThinking('medium', 16000) // { type: 'enabled', budget_tokens: 8192 }
 */
export function toThinking(effort: unknown, maxTokens: number): Anthropic.ThinkingConfigParam | undefined {
  const budget = typeof effort === 'string' && Object.hasOwn(THINKING_BUDGETS, effort) ? THINKING_BUDGETS[effort as ReasoningEffort] : undefined
  if (budget === undefined) return undefined
  const capped = Math.min(budget, maxTokens - 1)
  return capped >= MIN_BUDGET ? { type: 'enabled', budget_tokens: capped } : undefined
}
