// Series by their label values, found without building a key string per event: one Map level per value (a
// string made per request and hashed cost ~0.4 µs a look-up; values the events carry are mostly the same string
// objects each time, whose hashes V8 keeps).

type Value = string | number | boolean
type Level = Map<Value, unknown>

export class SeriesMap<S> {
  readonly #root: Level = new Map()

  /** The series of up to four label values (unused ones left out), or undefined. */
  get(a: Value, b: Value = '', c: Value = '', d: Value = ''): S | undefined {
    const second = this.#root.get(a) as Level | undefined
    const third = second?.get(b) as Level | undefined
    const fourth = third?.get(c) as Level | undefined
    return fourth?.get(d) as S | undefined
  }

  set(series: S, a: Value, b: Value = '', c: Value = '', d: Value = ''): S {
    let level = this.#root
    for (const value of [a, b, c]) {
      let next = level.get(value) as Level | undefined
      if (next === undefined) {
        next = new Map()
        level.set(value, next)
      }
      level = next
    }
    level.set(d, series)
    return series
  }
}
