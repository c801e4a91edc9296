// The parallel cap: requests one caller may have in flight in this process. A slot is held from admission until
// the response's 'close', which Node emits when the response ends and when the client goes away mid-stream.
import type { ServerResponse } from 'node:http'

// The holder's key is a property of the response, not a WeakMap entry keyed by it: V8's scavenger kept every
// request's objects alive through such entries until a full GC (measured in the kernel's hot path).
const HOLDER = Symbol('robutler.rate-limit.holder')
type HeldResponse = ServerResponse & { [HOLDER]?: string }

export class ParallelCap {
  readonly max: number
  readonly #inFlight = new Map<string, number>()
  /** One listener for every response: `this` is the response that closed. */
  readonly #release: (this: ServerResponse) => void

  constructor(max: number) {
    this.max = max
    const inFlight = this.#inFlight
    this.#release = function releaseSlot(this: HeldResponse) {
      const key = this[HOLDER]
      if (key === undefined) return
      this[HOLDER] = undefined
      const count = inFlight.get(key)! - 1
      if (count > 0) inFlight.set(key, count)
      else inFlight.delete(key)
    }
  }

  /** Takes a slot for `key` until `response` closes; false when the caller already holds every slot. */
  acquire(key: string, response: ServerResponse): boolean {
    // A response that closed already will never emit 'close' again: taking a slot for it would leak the slot.
    if (response.destroyed) return true
    const count = this.#inFlight.get(key) ?? 0
    if (count >= this.max) return false
    this.#inFlight.set(key, count + 1)
    ;(response as HeldResponse)[HOLDER] = key
    response.once('close', this.#release)
    return true
  }

  /** Slots held by `key` now. */
  inFlight(key: string): number {
    return this.#inFlight.get(key) ?? 0
  }
}
