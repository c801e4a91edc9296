// The closed, typed event map plugins observe (monitoring, audit). Emitting with no listener costs one lookup.
import type { KernelEventMap, KernelEventName } from './types.js'

type Listener<K extends KernelEventName> = (payload: KernelEventMap[K]) => void

const EVENT_NAMES: readonly KernelEventName[] = [
  'request:start',
  'request:end',
  'agent:resolved',
  'llm:start',
  'llm:end',
  'tool:start',
  'tool:end',
  'run:start',
  'run:end',
  'pool:task',
  'limit:rejected',
  'usage:recorded',
]

export class EventBus {
  readonly #listeners = new Map<KernelEventName, Array<Listener<any>>>()
  readonly #onListenerError: (error: unknown, event: KernelEventName) => void

  /** `onListenerError` hears of a listener that threw; it never breaks the request that emitted. */
  constructor(onListenerError: (error: unknown, event: KernelEventName) => void) {
    this.#onListenerError = onListenerError
  }

  on<K extends KernelEventName>(event: K, fn: Listener<K>): void {
    if (!EVENT_NAMES.includes(event)) {
      throw new TypeError(`Unknown kernel event '${String(event)}'; known events: ${EVENT_NAMES.join(', ')}`)
    }
    const list = this.#listeners.get(event)
    if (list) list.push(fn)
    else this.#listeners.set(event, [fn])
  }

  off<K extends KernelEventName>(event: K, fn: Listener<K>): void {
    const list = this.#listeners.get(event)
    if (!list) return
    const index = list.indexOf(fn)
    if (index >= 0) list.splice(index, 1)
    if (list.length === 0) this.#listeners.delete(event)
  }

  has(event: KernelEventName): boolean {
    return this.#listeners.has(event)
  }

  emit<K extends KernelEventName>(event: K, payload: KernelEventMap[K]): void {
    const list = this.#listeners.get(event)
    if (!list) return
    for (const fn of list) {
      try {
        fn(payload)
      } catch (error) {
        this.#onListenerError(error, event)
      }
    }
  }
}
