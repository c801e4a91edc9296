// An abort whose AbortSignal is made only when something reads it: creating an AbortSignal costs ~4 µs on
// Node 20, and most requests (a provider that answers at once, no tools) never read one. Aborting works the
// same whether or not the signal exists yet.

export class LazyAbort {
  #controller: AbortController | null = null
  #reason: unknown = undefined

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

  /** Aborts once: the signal, if made, fires. */
  abort(reason: unknown): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.#controller?.abort(reason)
  }
}
