// Problems as text for a terminal: what `robutler doctor` prints and what a refused startup shows.
import type { Problem } from './types.js'

function headline(entry: Problem): string {
  // Messages are whole sentences that usually name their package already; prefixing it again only adds noise.
  if (entry.package === undefined || entry.message.includes(entry.package)) return `${entry.code}  ${entry.message}`
  return `${entry.code}  ${entry.package}: ${entry.message}`
}

/**
 * One block per problem: `CODE  package: message`, then `  → hint` when there is one. Empty for no problems.
 *
 * @example
 * if (report.problems.length > 0) process.stderr.write(formatReport(report.problems) + '\n')
 */
export function formatReport(problems: readonly Problem[]): string {
  return problems.map((entry) => (entry.hint ? `${headline(entry)}\n  → ${entry.hint}` : headline(entry))).join('\n')
}
