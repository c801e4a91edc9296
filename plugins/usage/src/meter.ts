// Kernel `llm:end` events → usage records: every model call that reported usage (streamed, each tool-loop turn, the
// fallback that answered), priced from the config's table, stored, told to budgets and to monitoring.
import type { KernelApi, KernelEventMap } from '@robutler/kernel'
import type { Price } from './config.js'
import { recordOf, type UsageRecord } from './record.js'
import type { UsageStore } from './store.js'

export class Meter {
  readonly #prices: Map<string, Required<Price>>
  readonly #store: UsageStore
  readonly #kernel: KernelApi
  readonly #onRecord: (record: UsageRecord) => void
  /** Models already warned about (no price): once each. */
  readonly #unpriced = new Set<string>()
  #calls = 0

  constructor(kernel: KernelApi, store: UsageStore, prices: Map<string, Required<Price>>, onRecord: (record: UsageRecord) => void) {
    this.#kernel = kernel
    this.#store = store
    this.#prices = prices
    this.#onRecord = onRecord
  }

  readonly onLlmEnd = (event: KernelEventMap['llm:end']): void => {
    // A call that failed before the provider reported usage cost nothing we can know of.
    const usage = event.usage
    if (usage === null) return
    const model = `${event.provider}/${event.model}`
    const price = this.#prices.get(model)
    if (price === undefined && !this.#unpriced.has(model)) {
      this.#unpriced.add(model)
      this.#kernel.log.warn({ model }, "model has no price in plugin-usage's 'prices': its calls are counted in tokens, with cost null")
    }
    // Request ids are unique per server (issue 16): with a per-process count, the record id is unique everywhere.
    const record = recordOf(event, usage, `${event.requestId}/${++this.#calls}`, price)
    this.#store.add(record)
    this.#onRecord(record)
    const events = this.#kernel.events
    events.emit('usage:recorded', {
      requestId: record.requestId,
      agent: record.agent,
      model: record.model,
      promptTokens: record.promptTokens,
      completionTokens: record.completionTokens,
      cost: record.cost,
    })
  }
}
