// Background runs this process is running: their event logs (written to the store in order, so a stream that
// dropped resumes from any sequence number, on any process), their leases (renewed while they run; a run whose
// lease runs out is marked failed by whichever process sweeps first), and their cancels (from this process or,
// through the store, from another).
import { ERR_RUN_LOST } from './errors.js'
import { errorField } from './render.js'
import type { ResponseStore, StoredEvent, StoredResponse } from './store.js'

interface Running {
  cancel: () => void
  /** Resolves when the run has ended and its last state is stored. */
  done: Promise<void>
}

/** Ordered writes of one run's events: each batch waits for the one before. */
export class EventLog {
  readonly #store: ResponseStore
  readonly #id: string
  #pending: StoredEvent[] = []
  #writing: Promise<void> = Promise.resolve()
  #scheduled = false
  #failed: unknown = null

  constructor(store: ResponseStore, id: string) {
    this.#store = store
    this.#id = id
  }

  /** Queues an event (written with the others of this tick in one batch). */
  append(sequence: number, json: string): void {
    this.#pending.push({ sequence, json })
    if (this.#scheduled) return
    this.#scheduled = true
    queueMicrotask(() => {
      this.#scheduled = false
      const batch = this.#pending
      this.#pending = []
      this.#writing = this.#writing.then(() => this.#store.appendEvents(this.#id, batch)).catch((error: unknown) => {
        this.#failed ??= error
      })
    })
  }

  /** Resolves when every queued event is stored; rejects with the first write that failed. */
  async flush(): Promise<void> {
    await new Promise<void>((resolve) => queueMicrotask(resolve))
    await this.#writing
    if (this.#failed !== null) throw this.#failed
  }
}

/** The terminal events of a run whose process died: an `error`, then `response.failed`. */
export function lostEvents(record: StoredResponse, next: number, reason: string): StoredEvent[] {
  const error = ERR_RUN_LOST(record.id, reason)
  record.response.status = 'failed'
  record.response.error = errorField(error)
  return [
    { sequence: next, json: JSON.stringify({ type: 'error', code: error.code, message: error.message, param: null, sequence_number: next }) },
    { sequence: next + 1, json: JSON.stringify({ type: 'response.failed', response: record.response, sequence_number: next + 1 }) },
  ]
}

export class BackgroundRuns {
  readonly #store: ResponseStore
  readonly #running = new Map<string, Running>()
  readonly #leaseMs: number
  #timer: NodeJS.Timeout | null = null

  constructor(store: ResponseStore, leaseMs: number, log: { warn(obj: unknown, msg: string): void }) {
    this.#store = store
    this.#leaseMs = leaseMs
    store.onCancel((id) => this.#running.get(id)?.cancel())
    // Renew our leases and sweep runs that lost theirs, a few times per lease.
    this.#timer = setInterval(() => {
      const now = Date.now()
      const ids = [...this.#running.keys()]
      const renew = ids.length > 0 ? this.#store.renewLeases(ids, now + this.#leaseMs) : Promise.resolve()
      renew
        .then(() => this.sweep())
        .catch((error: unknown) => log.warn({ err: error }, 'responses: lease renewal or sweep failed'))
    }, Math.max(250, Math.floor(this.#leaseMs / 3)))
    this.#timer.unref()
  }

  get leaseMs(): number {
    return this.#leaseMs
  }

  /** Marks runs whose process died failed (at boot, then every sweep). */
  sweep(): Promise<string[]> {
    return this.#store.sweepLost(Date.now(), (record, next) => lostEvents(record, next, 'its lease ran out'))
  }

  has(id: string): boolean {
    return this.#running.has(id)
  }

  add(id: string, cancel: () => void, done: Promise<void>): void {
    this.#running.set(id, { cancel, done })
    void done.finally(() => this.#running.delete(id))
  }

  /** Cancels a run of this process (true), or asks the others (false). */
  async cancel(id: string): Promise<boolean> {
    const run = this.#running.get(id)
    if (run !== undefined) {
      run.cancel()
      await run.done
      return true
    }
    await this.#store.requestCancel(id)
    return false
  }

  /** Stops renewing and sweeping; runs still going end with the server's drain. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    await Promise.allSettled([...this.#running.values()].map((run) => run.done))
  }
}

