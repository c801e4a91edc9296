// A bounded least-recently-used map whose entries expire: answers from the key database, by key hash.

interface Slot<V> {
  value: V
  expiresAt: number
}

export class TtlLru<V> {
  readonly #slots = new Map<string, Slot<V>>()
  readonly #ttlMs: number
  readonly #max: number
  readonly #now: () => number

  constructor(options: { ttlMs: number; max: number; now?: () => number }) {
    this.#ttlMs = options.ttlMs
    this.#max = Math.max(1, options.max)
    this.#now = options.now ?? Date.now
  }

  get size(): number {
    return this.#slots.size
  }

  /** The live value for `key`, marked most recently used; undefined when absent or expired. */
  get(key: string): V | undefined {
    const slot = this.#slots.get(key)
    if (slot === undefined) return undefined
    this.#slots.delete(key)
    if (slot.expiresAt <= this.#now()) return undefined
    // Map keeps insertion order: re-inserting makes this the newest entry.
    this.#slots.set(key, slot)
    return slot.value
  }

  set(key: string, value: V): void {
    if (this.#ttlMs <= 0) return
    this.#slots.delete(key)
    while (this.#slots.size >= this.#max) {
      const oldest = this.#slots.keys().next().value as string
      this.#slots.delete(oldest)
    }
    this.#slots.set(key, { value, expiresAt: this.#now() + this.#ttlMs })
  }

  clear(): void {
    this.#slots.clear()
  }
}
