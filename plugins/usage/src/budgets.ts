// Budgets as a kernel run gate: before a request's first model call, each budget that matches it reserves the
// request's share (the mean of the budget's finished requests) and refuses the request when it would not fit;
// each model call's usage is settled against the budget as it is metered; the request's end frees what is left.
// Rule: a request is admitted when spent + reserved + its own estimate ≤ the limit. With calls that cost the same,
// that is exactly the calls that fit; a request that costs more than its estimate (or a stream already running)
// finishes and may pass the limit by that difference.
import { setTimeout as sleep } from 'node:timers/promises'
import type { KernelApi, RequestContext, RunGate } from '@robutler/kernel'
import type { Budget, Settings } from './config.js'
import { APPLIED_WINDOW_MS, MISSING, type Amount, type Counters } from './counters.js'
import { ERR_BUDGET_EXCEEDED } from './errors.js'
import { periodAt, periodName, secondsToReset } from './periods.js'
import type { UsageRecord } from './record.js'
import type { UsageStore } from './store.js'

const NANO = 1e9
const NONE: Applied[] = []

/** One budget applied to one request: the counter it uses and what it caps. */
interface Applied {
  budget: Budget
  subject: string
  key: string
}

interface Pending {
  key: string
  requestId: string
  callId: string
  amount: Amount
  budget: Applied
  at: number
}

/** Settlements Redis refused (down): retried until they land, for at most this long. */
const RETRY_FOR_MS = 5 * 60_000
const RETRY_EVERY_MS = 250

function nano(cost: number | null): number {
  return cost === null ? 0 : Math.round(cost * NANO)
}

function limitText(budget: Budget): string {
  const parts: string[] = []
  if (budget.tokens !== null) parts.push(`${budget.tokens} tokens`)
  if (budget.cost !== null) parts.push(`${budget.cost} in cost`)
  return parts.join(' or ')
}

export class Budgets {
  readonly #settings: Settings
  readonly #counters: Counters
  readonly #store: UsageStore
  readonly #kernel: KernelApi
  /** The budgets each running request reserved on, by request id. */
  readonly #running = new Map<string, Applied[]>()
  /** Counter rebuilds in progress, by counter key. */
  readonly #rebuilding = new Map<string, Promise<void>>()
  /** Each running request's settlements in flight. */
  readonly #settling = new Map<string, Array<Promise<void>>>()
  #retry: Pending[] = []
  readonly #timer: NodeJS.Timeout
  readonly #onStoreError: (error: unknown) => void

  constructor(kernel: KernelApi, settings: Settings, counters: Counters, store: UsageStore, onStoreError: (error: unknown) => void) {
    this.#kernel = kernel
    this.#settings = settings
    this.#counters = counters
    this.#store = store
    this.#onStoreError = onStoreError
    this.#timer = setInterval(() => void this.#retryPending(), RETRY_EVERY_MS)
    this.#timer.unref()
  }

  get counters(): Counters {
    return this.#counters
  }

  /** The counter key of a budget for a subject in the period `now` falls in. */
  keyOf(budget: Budget, subject: string, now = Date.now()): string {
    const { start } = periodAt(budget.period, now)
    return `${this.#settings.redisPrefix}b:${budget.name}:${budget.on}:${subject}:${start}`
  }

  #matching(ctx: RequestContext, now: number): Applied[] {
    const identity = ctx.identity
    if (this.#settings.budgets.length === 0 && identity?.budget === undefined) return NONE
    const applied: Applied[] = []
    for (const budget of this.#settings.budgets) {
      const subject = budget.on === 'user' ? identity?.userId : budget.on === 'key' ? identity?.keyId : ctx.agent
      if (subject === undefined || subject === null) continue
      if (budget.subject !== null && budget.subject !== subject) continue
      applied.push({ budget, subject, key: this.keyOf(budget, subject, now) })
    }
    const own = identity?.budget
    if (own !== undefined && identity?.keyId !== undefined) {
      const budget: Budget = {
        name: `key:${identity.keyId}`,
        on: 'key',
        subject: identity.keyId,
        period: own.period === 'day' || own.period === 'month' ? { kind: own.period } : { kind: 'total' },
        tokens: own.tokens ?? null,
        cost: own.cost ?? null,
        reserve: this.#settings.reserve,
      }
      applied.push({ budget, subject: identity.keyId, key: this.keyOf(budget, identity.keyId, now) })
    }
    return applied
  }

  #ttl(budget: Budget, now: number): number {
    const { end } = periodAt(budget.period, now)
    return end === Infinity ? 0 : Math.ceil((end - now) / 1000) + 3600
  }

  /**
   * Creates a counter Redis does not have (a new period, or Redis lost it) from the store's records: once per
   * counter at a time in this process, however many requests found it missing (a stampede would exhaust the
   * database pool and fail them all open).
   */
  #rebuild(applied: Applied, now: number): Promise<void> {
    let running = this.#rebuilding.get(applied.key)
    if (running === undefined) {
      running = this.#rebuildNow(applied, now).finally(() => this.#rebuilding.delete(applied.key))
      this.#rebuilding.set(applied.key, running)
    }
    return running
  }

  async #rebuildNow(applied: Applied, now: number): Promise<void> {
    const { budget, subject, key } = applied
    const since = new Date(periodAt(budget.period, now).start)
    // Calls settled in a Redis that then lost its data may still sit in another process's unflushed batch: wait
    // until every process has flushed once since the loss, or the rebuild would miss them.
    const lostAt = await this.#counters.lostAt(Date.now())
    const settled = lostAt + this.#settings.flushMs * 1.5 + 250
    if (settled > Date.now()) await sleep(settled - Date.now())
    await this.#store.flush()
    const spent = await this.#store.spent(budget.on, subject, since, new Date(now - APPLIED_WINDOW_MS))
    await this.#counters.seed(key, { tokens: spent.tokens, cost: nano(spent.cost), requests: spent.requests, applied: spent.recent }, this.#ttl(budget, now), now)
  }

  async #reserve(applied: Applied, requestId: string, now: number): Promise<boolean> {
    const { budget, key } = applied
    const fallback = { tokens: budget.reserve.tokens, cost: nano(budget.reserve.cost) }
    const limit = { tokens: budget.tokens, cost: budget.cost === null ? null : nano(budget.cost) }
    for (let attempt = 0; ; attempt++) {
      const answer = await this.#counters.reserve(key, requestId, fallback, limit, this.#ttl(budget, now))
      if (answer !== MISSING) return answer
      if (attempt > 0) throw new Error(`budget counter ${budget.name} could not be created`)
      await this.#rebuild(applied, now)
    }
  }

  readonly gate: RunGate = {
    name: 'usage-budgets',
    before: (ctx) => {
      const now = Date.now()
      const applied = this.#matching(ctx, now)
      // The common request with no budget pays no promise.
      return applied.length === 0 ? undefined : this.#admit(ctx, applied, now)
    },
    after: (ctx) => {
      const applied = this.#running.get(ctx.id)
      if (applied === undefined) return
      this.#running.delete(ctx.id)
      // The answer does not wait for the release (a reservation freed a round trip late only makes the next check
      // more cautious), but the release waits for the request's settlements: a release that overtook one (ioredis
      // re-sends a script Redis did not know yet, behind later commands) would count the request as costing nothing.
      const settling = this.#settling.get(ctx.id)
      if (settling === undefined) {
        void this.#release(ctx, applied)
        return
      }
      this.#settling.delete(ctx.id)
      void Promise.all(settling).then(() => this.#release(ctx, applied))
    },
  }

  async #release(ctx: RequestContext, applied: Applied[]): Promise<void> {
    for (const one of applied) await this.#counters.release(one.key, ctx.id).catch(this.#onStoreError)
  }

  async #admit(ctx: RequestContext, applied: Applied[], now: number): Promise<void> {
    const reserved: Applied[] = []
    try {
      for (const one of applied) {
        if (!(await this.#reserve(one, ctx.id, now))) {
          const budget = one.budget
          this.#kernel.events.emit('limit:rejected', { requestId: ctx.id, limit: 'budget', agent: ctx.agent })
          throw ERR_BUDGET_EXCEEDED(budget.name, limitText(budget), periodName(budget.period), secondsToReset(budget.period, now))
        }
        reserved.push(one)
      }
    } catch (error) {
      for (const one of reserved) await this.#counters.release(one.key, ctx.id).catch(this.#onStoreError)
      if ((error as { code?: string }).code === ERR_BUDGET_EXCEEDED.code) throw error
      // The counters are unreachable: budgets fail open (the request runs, its usage is settled when they are back).
      this.#onStoreError(error)
      this.#running.set(ctx.id, applied)
      return
    }
    this.#running.set(ctx.id, applied)
  }

  /** A metered call: settled on every budget its request reserved on. */
  readonly onRecord = (record: UsageRecord): void => {
    const applied = this.#running.get(record.requestId)
    if (applied === undefined) return
    const amount = { tokens: record.promptTokens + record.completionTokens, cost: nano(record.cost) }
    const at = Date.now()
    let settling = this.#settling.get(record.requestId)
    if (settling === undefined) this.#settling.set(record.requestId, (settling = []))
    for (const one of applied) {
      const pending: Pending = { key: one.key, requestId: record.requestId, callId: record.id, amount, budget: one, at }
      settling.push(
        this.#settle(pending).catch((error: unknown) => {
          this.#onStoreError(error)
          this.#retry.push(pending)
        }),
      )
    }
  }

  async #settle(p: Pending): Promise<void> {
    const answer = await this.#counters.settle(p.key, p.requestId, p.callId, p.amount, Date.now())
    if (answer !== MISSING) return
    // Redis lost the counter: rebuilt from the store, which may already hold this call (then settling is a no-op).
    await this.#rebuild(p.budget, p.at)
    await this.#counters.settle(p.key, p.requestId, p.callId, p.amount, Date.now())
  }

  async #retryPending(): Promise<void> {
    if (this.#retry.length === 0) return
    const now = Date.now()
    const due = this.#retry.filter((p) => now - p.at < RETRY_FOR_MS)
    const dropped = this.#retry.length - due.length
    if (dropped > 0) this.#kernel.log.warn({ dropped }, 'budget settlements dropped after five minutes of retries: those counters undercount (PostgreSQL has the records)')
    this.#retry = []
    for (const p of due) {
      try {
        await this.#settle(p)
      } catch {
        this.#retry.push(p)
      }
    }
  }

  /** Settlements not yet landed (for close, tests). */
  get pending(): number {
    return this.#retry.length
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    await this.#retryPending()
    await this.#counters.close()
  }
}
