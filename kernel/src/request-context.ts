// One plain object per agent request. Its AbortSignal is made only when something reads `signal`: an
// AbortSignal costs ~4 µs to create on Node 20, and most requests (a provider answering at once, no tools)
// never need one. Disconnects, timeouts and drains abort the request whether or not a signal exists yet.
import type { Logger } from 'pino'
import type { Identity, RequestContext, Scope, Usage } from './types.js'

export type AbortListener = (reason: unknown) => void

export class Context implements RequestContext {
  readonly id: string
  readonly identity: Identity | null
  readonly scope: Scope
  readonly agent: string
  readonly deadline: number
  readonly usage: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }
  readonly log: Logger
  readonly state: Record<string, unknown> = {}
  #controller: AbortController | null = null
  #reason: unknown = undefined
  #listeners: AbortListener[] | null = null

  constructor(id: string, identity: Identity | null, scope: Scope, agent: string, deadline: number, log: Logger) {
    this.id = id
    this.identity = identity
    this.scope = scope
    this.agent = agent
    this.deadline = deadline
    this.log = log
  }

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

  /** Aborts the request once: its signal (if made) fires and every listener runs. */
  abort(reason: unknown): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.#controller?.abort(reason)
    const listeners = this.#listeners
    this.#listeners = null
    if (listeners) for (const fn of listeners) fn(reason)
  }

  /** A listener without an AbortSignal: for kernel parts that link their own lazy signals to the request. */
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
