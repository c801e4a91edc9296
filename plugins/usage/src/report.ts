// What `GET /usage`, `GET /usage/me` and `robutler usage` answer: usage added up by one dimension.
import type { UsageRecord } from './record.js'

export const GROUPINGS = ['user', 'key', 'agent', 'model', 'day', 'surface'] as const
export type Grouping = (typeof GROUPINGS)[number]

export interface ReportQuery {
  by: Grouping
  /** Only records at or after this time (null: all). */
  since: Date | null
  /** Only this user's records (`/usage/me`). */
  userId?: string
}

export interface ReportRow {
  /** The user, key, agent, model, day (YYYY-MM-DD, UTC) or surface; null for anonymous callers or no key. */
  group: string | null
  calls: number
  requests: number
  promptTokens: number
  completionTokens: number
  cachedTokens: number
  reasoningTokens: number
  totalTokens: number
  /** The priced calls' cost added up; null when none of the group's calls had a price. */
  cost: number | null
  /** Calls of a model with no price (counted in tokens, not in cost). */
  unpricedCalls: number
}

export interface Report {
  by: Grouping
  since: string | null
  rows: ReportRow[]
  total: Omit<ReportRow, 'group'>
}

export function groupOf(record: UsageRecord, by: Grouping): string | null {
  switch (by) {
    case 'user':
      return record.userId
    case 'key':
      return record.keyId
    case 'agent':
      return record.agent
    case 'model':
      return record.model
    case 'surface':
      return record.surface
    case 'day':
      return new Date(record.time).toISOString().slice(0, 10)
  }
}

function emptyRow(group: string | null): ReportRow {
  return { group, calls: 0, requests: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, totalTokens: 0, cost: null, unpricedCalls: 0 }
}

/** Adds records up (the memory store's report; the database's is the same in SQL). */
export function reportOf(records: Iterable<UsageRecord>, query: ReportQuery): Report {
  const rows = new Map<string | null, ReportRow & { ids: Set<string> }>()
  const since = query.since?.getTime() ?? -Infinity
  for (const record of records) {
    if (record.time < since) continue
    if (query.userId !== undefined && record.userId !== query.userId) continue
    const group = groupOf(record, query.by)
    let row = rows.get(group)
    if (row === undefined) rows.set(group, (row = { ...emptyRow(group), ids: new Set() }))
    row.calls++
    row.ids.add(record.requestId)
    row.promptTokens += record.promptTokens
    row.completionTokens += record.completionTokens
    row.cachedTokens += record.cachedTokens
    row.reasoningTokens += record.reasoningTokens
    if (record.cost === null) row.unpricedCalls++
    else row.cost = (row.cost ?? 0) + record.cost
  }
  const list: ReportRow[] = []
  for (const { ids, ...row } of rows.values()) list.push({ ...row, requests: ids.size, totalTokens: row.promptTokens + row.completionTokens })
  return finish(list, query)
}

/** Sorts the rows (by group) and adds the total line. */
export function finish(rows: ReportRow[], query: ReportQuery): Report {
  rows.sort((a, b) => String(a.group ?? '').localeCompare(String(b.group ?? '')))
  const total = emptyRow(null)
  for (const row of rows) {
    total.calls += row.calls
    total.requests += row.requests
    total.promptTokens += row.promptTokens
    total.completionTokens += row.completionTokens
    total.cachedTokens += row.cachedTokens
    total.reasoningTokens += row.reasoningTokens
    total.totalTokens += row.totalTokens
    total.unpricedCalls += row.unpricedCalls
    if (row.cost !== null) total.cost = (total.cost ?? 0) + row.cost
  }
  const { group: _group, ...sum } = total
  // Requests are counted once per group; a request spread over groups (a fallback's two models) counts in each.
  return { by: query.by, since: query.since?.toISOString() ?? null, rows, total: sum }
}

/** Parses `--since`/`?since=`: an ISO date or time, or a span back from now (`30m`, `24h`, `7d`). */
export function parseSince(text: string | undefined, now = Date.now()): Date | null | 'invalid' {
  if (text === undefined || text === '') return null
  const span = /^([0-9]+)([smhd])$/.exec(text)
  if (span) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[span[2] as 's' | 'm' | 'h' | 'd']
    return new Date(now - Number(span[1]) * unit)
  }
  const time = Date.parse(text)
  return Number.isNaN(time) ? 'invalid' : new Date(time)
}
