// Where records go: a bounded array in memory (this process only), or PostgreSQL in batches.
import type { Report, ReportQuery } from './report.js'
import type { UsageRecord } from './record.js'

export interface Spent {
  tokens: number
  cost: number
  /** Finished requests and their tokens and cost (for the mean a request reserves). */
  requests: number
}

export interface UsageStore {
  readonly kind: 'memory' | 'postgres'
  add(record: UsageRecord): void
  report(query: ReportQuery): Promise<Report>
  /** What a budget's subject spent since `since` (the budget counter's rebuild), and the ids of calls after `recentSince`. */
  spent(on: 'user' | 'key' | 'agent', subject: string, since: Date, recentSince: Date): Promise<Spent & { recent: string[] }>
  /** Writes what is pending (PostgreSQL); resolves when written. */
  flush(): Promise<void>
  close(): Promise<void>
}
