// An abort whose AbortSignal is made only when something reads it: creating an AbortSignal costs ~4 µs on
// Node 20, and most requests (a provider that answers at once, no tools) never read one. Aborting works the
// same whether or not the signal exists yet.

export type AbortListener = (reason: unknown) => void

export class LazyAbort {
  #controller: AbortController | null = null
  #reason: unknown = undefined
  #listeners: AbortListener[] | null = null

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  get aborted(): boolean {
    return this.#reason !== undefined
  }

  get abortReason(): unknown {
    return this.#reason
  }

  /** Aborts once: the signal (if made) fires and every listener runs. */
  abort(reason: unknown): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.#controller?.abort(reason)
    const listeners = this.#listeners
    this.#listeners = null
    if (listeners) for (const fn of listeners) fn(reason)
  }

  /** A listener without an AbortSignal, for lazy aborts linked to this one. */
  onAbort(fn: AbortListener): void {
    ;(this.#listeners ??= []).push(fn)
  }

  offAbort(fn: AbortListener): void {
    const list = this.#listeners
    if (!list) return
    const index = list.indexOf(fn)
    if (index >= 0) list.splice(index, 1)
  }
}
