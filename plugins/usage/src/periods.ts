// Budget periods: calendar days and months in UTC, forever, or fixed windows of N seconds from the epoch.
export type Period = { kind: 'day' } | { kind: 'month' } | { kind: 'total' } | { kind: 'seconds'; seconds: number }

export function parsePeriod(text: string): Period {
  if (text === 'day' || text === 'month' || text === 'total') return { kind: text }
  const match = /^([1-9][0-9]*)s$/.exec(text)
  if (!match) throw new Error(`unknown budget period '${text}'`)
  return { kind: 'seconds', seconds: Number(match[1]) }
}

export function periodName(period: Period): string {
  return period.kind === 'seconds' ? `${period.seconds} s` : period.kind
}

/** The period `now` falls in: its start (epoch ms; 0 for total) and end (Infinity for total). */
export function periodAt(period: Period, now: number): { start: number; end: number } {
  switch (period.kind) {
    case 'total':
      return { start: 0, end: Infinity }
    case 'seconds': {
      const ms = period.seconds * 1000
      const start = Math.floor(now / ms) * ms
      return { start, end: start + ms }
    }
    case 'day': {
      const d = new Date(now)
      const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
      return { start, end: start + 86_400_000 }
    }
    case 'month': {
      const d = new Date(now)
      return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) }
    }
  }
}

/** Seconds until the period resets, at least 1 (Retry-After); a total budget never resets: a day is answered. */
export function secondsToReset(period: Period, now: number): number {
  const { end } = periodAt(period, now)
  if (end === Infinity) return 86_400
  return Math.max(1, Math.ceil((end - now) / 1000))
}
