// A key's own budget as written on the command line and stored in its row: `5usd/month`, `200000tokens/day`,
// `10/total`. Cost is in the currency of plugin-usage's price table (the unit word is the operator's note).
import type { IdentityBudget } from '@robutler/kernel'

const BUDGET = /^([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*\/\s*(day|month|total)$/i

/** The budget a text says, or null when it is not one. */
export function parseBudget(text: string): IdentityBudget | null {
  const match = BUDGET.exec(text.trim())
  if (!match) return null
  const amount = Number(match[1])
  const unit = match[2]!.toLowerCase()
  const period = match[3]!.toLowerCase() as IdentityBudget['period']
  return unit === 'tokens' || unit === 'token' || unit === 'tok' ? { period, tokens: amount } : { period, cost: amount }
}

export const BUDGET_FORMS = 'AMOUNT[usd|tokens]/day|month|total, e.g. 5usd/month or 200000tokens/day'
