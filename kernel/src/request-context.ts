// One plain object per agent request; its abort (client gone, timeout, drain) is lazy: see LazyAbort.
import type { Logger } from 'pino'
import { LazyAbort } from './lazy-abort.js'
import type { Identity, RequestContext, Scope, Usage } from './types.js'

export class Context extends LazyAbort implements RequestContext {
  readonly id: string
  readonly identity: Identity | null
  readonly scope: Scope
  readonly agent: string
  readonly surface: string
  readonly deadline: number
  readonly usage: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }
  readonly log: Logger
  readonly state: Record<string, unknown> = {}
  /** The model call in progress (one at a time per request): aborted with the request; the sweep checks its deadline. */
  call: { deadline: number; timeOut(): void; abort(reason: unknown): void } | null = null

  constructor(id: string, identity: Identity | null, scope: Scope, agent: string, surface: string, deadline: number, log: Logger) {
    super()
    this.id = id
    this.surface = surface
    this.identity = identity
    this.scope = scope
    this.agent = agent
    this.deadline = deadline
    this.log = log
  }

  override abort(reason: unknown): void {
    if (this.aborted) return
    super.abort(reason)
    this.call?.abort(reason)
  }
}
