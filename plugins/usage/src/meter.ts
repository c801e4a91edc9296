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
  readonly #models = new Map<string, Map<string, { model: string; price: Required<Price> | undefined }>>()

  #learn(provider: string, name: string): { model: string; price: Required<Price> | undefined } {
    const model = `${provider}/${name}`
    const known = { model, price: this.#prices.get(model) }
    let byName = this.#models.get(provider)
    if (byName === undefined) this.#models.set(provider, (byName = new Map()))
    // Model names come from config (agents' models and fallbacks), so this stays small.
    byName.set(name, known)
    return known
  }

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
    // The model string and its price, looked up once per provider and model rather than once per call.
    let known = this.#models.get(event.provider)?.get(event.model)
    if (known === undefined) known = this.#learn(event.provider, event.model)
    const { model, price } = known
    if (price === undefined && !this.#unpriced.has(model)) {
      this.#unpriced.add(model)
      this.#kernel.log.warn({ model }, "model has no price in plugin-usage's 'prices': its calls are counted in tokens, with cost null")
    }
    // Request ids are unique per server (issue 16): with a per-process count, the record id is unique everywhere.
    const record = recordOf(event, usage, `${event.requestId}/${++this.#calls}`, model, price)
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
