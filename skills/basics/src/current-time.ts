// `current_time`'s clock: the present moment in an IANA time zone, through Intl.DateTimeFormat.

export interface CurrentTime {
  /** The instant in UTC, ISO 8601. */
  iso: string
  /** The canonical IANA name of the zone. */
  timezone: string
  /** The wall-clock time there, with weekday and UTC offset: `Friday, November 28, 2025 at 17:36:00 GMT+01:00`. */
  local: string
}

const LOCAL_FORMAT: Intl.DateTimeFormatOptions = {
  weekday: 'long',
  year: 'numeric',
  month: 'long',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'longOffset',
}

// Formatters are costly to build; valid zones are few, but a caller could vary the letter case endlessly.
const MAX_CACHED = 1000

/** A per-agent clock: resolves and caches one formatter per zone name. */
export class Clock {
  readonly #formatters = new Map<string, Intl.DateTimeFormat>()

  /** The formatter for a zone; an unknown zone throws an error naming it. */
  formatter(timeZone: string): Intl.DateTimeFormat {
    let formatter = this.#formatters.get(timeZone)
    if (formatter !== undefined) return formatter
    try {
      // en-US is pinned so the answer reads the same on every host, whatever its locale.
      formatter = new Intl.DateTimeFormat('en-US', { ...LOCAL_FORMAT, timeZone })
    } catch (error) {
      throw new Error(`Unknown time zone '${timeZone}': use an IANA name such as 'UTC', 'Europe/Paris' or 'America/New_York'`, {
        cause: error,
      })
    }
    if (this.#formatters.size < MAX_CACHED) this.#formatters.set(timeZone, formatter)
    return formatter
  }

  /** The time at `now` (default: the present) in a zone. */
  at(timeZone: string, now: Date = new Date()): CurrentTime {
    const formatter = this.formatter(timeZone)
    return { iso: now.toISOString(), timezone: formatter.resolvedOptions().timeZone, local: formatter.format(now) }
  }
}
