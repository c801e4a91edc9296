// Records in memory, for a server without a database: the newest `max` calls of this process.
import { reportOf, type Report, type ReportQuery } from './report.js'
import type { UsageRecord } from './record.js'
import type { Spent, UsageStore } from './store.js'

const FIELD = { user: 'userId', key: 'keyId', agent: 'agent' } as const

export class MemoryStore implements UsageStore {
  readonly kind = 'memory'
  readonly #max: number
  #records: UsageRecord[] = []

  constructor(max: number) {
    this.#max = max
  }

  add(record: UsageRecord): void {
    this.#records.push(record)
    // Drop the oldest tenth at once rather than one record per call.
    if (this.#records.length > this.#max) this.#records = this.#records.slice(Math.ceil(this.#max / 10))
  }

  async report(query: ReportQuery): Promise<Report> {
    return reportOf(this.#records, query)
  }

  async spent(on: 'user' | 'key' | 'agent', subject: string, since: Date, recentSince: Date): Promise<Spent & { recent: string[] }> {
    const field = FIELD[on]
    const requests = new Set<string>()
    const recent: string[] = []
    let tokens = 0
    let cost = 0
    const from = since.getTime()
    const recentFrom = recentSince.getTime()
    for (const record of this.#records) {
      if (record[field] !== subject || record.time < from) continue
      tokens += record.promptTokens + record.completionTokens
      cost += record.cost ?? 0
      requests.add(record.requestId)
      if (record.time >= recentFrom) recent.push(record.id)
    }
    return { tokens, cost, requests: requests.size, recent }
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
