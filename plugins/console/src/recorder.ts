// The console's figures, from the kernel's events alone (no Prometheus): the last N finished requests, and one
// snapshot a second (requests/s, p50/p99 latency, errors by code, tokens/s, streams open, pool queue and
// utilisation, rate-limit rejections) with the last minute kept. A listener does a push or an increment; the
// sorting and summing happen once a second, off the request path.
import type { KernelApi, KernelEventMap } from '@robutler/kernel'

/** One finished request as the console lists it: ids, timings and codes, never a header, body or URL query. */
export interface RecentRequest {
  id: string
  /** The process that served it (under `--workers N`, one of N). */
  pid: number
  time: number
  agent: string | null
  surface: string
  method: string
  route: string
  status: number
  durationMs: number
  tokens: number | null
  error: string | null
  aborted: boolean
  models: Array<{ model: string; durationMs: number; ttftMs: number | null; tokens: number | null; error: string | null }>
  tools: Array<{ tool: string; skill: string | null; durationMs: number; status: string }>
}

export interface Snapshot {
  /** Epoch ms of the second's end. */
  t: number
  rps: number
  p50: number | null
  p99: number | null
  errors: Record<string, number>
  tokensPerSec: number
  streamsOpen: number
  poolQueue: number
  poolUtilization: number
  poolThreads: number
  rejected: number
}

const HISTORY = 60
/** Model and tool calls kept per kept request, on average, to join with the requests when the page asks. */
const CALLS_PER_REQUEST = 4

/** Which protocol a route belongs to, from its pattern. */
function surfaceOf(route: string): string {
  if (route.endsWith('/chat/completions')) return 'chat'
  if (route.endsWith('/v1/messages') || route.endsWith('/v1/messages/count_tokens')) return 'messages'
  if (route.endsWith('/responses') || route.includes('/responses/') || route.includes('/conversations')) return 'responses'
  if (route.endsWith('/mcp')) return 'mcp'
  if (route.endsWith('/chat')) return 'console'
  return 'http'
}

function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

/**
 * A second's latencies, at most this many (past it, a uniform sample of the second's: reservoir sampling): kept in a typed array whose native numeric sort is several times
 * faster than sorting a plain array with a comparator, which cost more per request than the listeners did.
 */
const MAX_SAMPLES = 20_000

/**
 * The newest `size` values, oldest overwritten: a push is one store (no shifting an array per request). The
 * kernel's event payloads are kept as they came; joining and shaping happen when the page asks.
 */
class Ring<T> {
  readonly #items: Array<T | undefined>
  /** When each was pushed (epoch ms), beside it rather than on the kernel's payload, which others share. */
  readonly #times: Float64Array
  #next = 0
  #count = 0

  constructor(size: number) {
    this.#items = new Array<T | undefined>(size)
    this.#times = new Float64Array(size)
  }

  push(item: T, time = 0): void {
    this.#items[this.#next] = item
    this.#times[this.#next] = time
    this.#next = (this.#next + 1) % this.#items.length
    if (this.#count < this.#items.length) this.#count++
  }

  /** Newest first. */
  newest(): Array<{ item: T; time: number }> {
    const out: Array<{ item: T; time: number }> = []
    const size = this.#items.length
    for (let i = 1; i <= this.#count; i++) {
      const at = (this.#next - i + size) % size
      out.push({ item: this.#items[at]!, time: this.#times[at] })
    }
    return out
  }
}

export class Recorder {
  readonly #kernel: KernelApi
  readonly #base: string
  readonly #ended: Ring<KernelEventMap['request:end']>
  readonly #llm: Ring<KernelEventMap['llm:end']>
  readonly #tools: Ring<KernelEventMap['tool:end']>
  readonly history: Snapshot[] = []
  #timer: NodeJS.Timeout | null = null
  // The current second's figures.
  #count = 0
  readonly #latencies = new Float64Array(MAX_SAMPLES)
  #samples = 0
  #errors: Record<string, number> = {}
  #tokens = 0
  #rejected = 0
  #streamsOpen = 0

  /** `base`: the console's own path: its page and polling are not traffic to show (its chat is). */
  constructor(kernel: KernelApi, size: number, base: string) {
    this.#kernel = kernel
    this.#base = base
    this.#ended = new Ring(size)
    this.#llm = new Ring(size * CALLS_PER_REQUEST)
    this.#tools = new Ring(size * CALLS_PER_REQUEST)
  }

  start(): void {
    const events = this.#kernel.events
    events.on('request:end', this.#requestEnd)
    events.on('llm:start', this.#llmStart)
    events.on('llm:end', this.#llmEnd)
    events.on('tool:end', this.#toolEnd)
    events.on('limit:rejected', this.#limitRejected)
    this.#timer = setInterval(() => this.tick(), 1000)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    const events = this.#kernel.events
    events.off('request:end', this.#requestEnd)
    events.off('llm:start', this.#llmStart)
    events.off('llm:end', this.#llmEnd)
    events.off('tool:end', this.#toolEnd)
    events.off('limit:rejected', this.#limitRejected)
  }

  /** The kept requests, newest first, each with its model and tool calls (those still kept). */
  recent(): RecentRequest[] {
    const calls = new Map<string, Pick<RecentRequest, 'models' | 'tools'>>()
    const of = (id: string) => {
      let found = calls.get(id)
      if (!found) calls.set(id, (found = { models: [], tools: [] }))
      return found
    }
    for (const { item: call } of this.#llm.newest().reverse()) {
      of(call.requestId).models.push({
        model: `${call.provider}/${call.model}`,
        durationMs: call.durationMs,
        ttftMs: call.ttftMs,
        tokens: call.usage?.total_tokens ?? null,
        error: call.error,
      })
    }
    for (const { item: call } of this.#tools.newest().reverse()) {
      of(call.requestId).tools.push({ tool: call.tool, skill: call.skill, durationMs: call.durationMs, status: call.status })
    }
    return this.#ended.newest().map(({ item: event, time }) => {
      const { models, tools } = calls.get(event.requestId) ?? { models: [], tools: [] }
      const tokens = models.reduce<number | null>((sum, call) => (call.tokens === null ? sum : (sum ?? 0) + call.tokens), null)
      return {
        id: event.requestId,
        pid: process.pid,
        time,
        agent: event.agent,
        surface: surfaceOf(event.route),
        method: event.method,
        route: event.route,
        status: event.status,
        durationMs: event.durationMs,
        tokens,
        error: event.error,
        aborted: event.aborted,
        models,
        tools,
      }
    })
  }

  readonly #requestEnd = (event: KernelEventMap['request:end']): void => {
    if (event.route.startsWith(this.#base) && event.route !== `${this.#base}/chat`) return
    this.#count++
    if (this.#samples < MAX_SAMPLES) this.#latencies[this.#samples++] = event.durationMs
    else {
      const at = Math.floor(Math.random() * this.#count)
      if (at < MAX_SAMPLES) this.#latencies[at] = event.durationMs
    }
    if (event.error !== null) this.#errors[event.error] = (this.#errors[event.error] ?? 0) + 1
    this.#ended.push(event, Date.now())
  }

  readonly #llmStart = (event: KernelEventMap['llm:start']): void => {
    if (event.stream) this.#streamsOpen++
  }

  readonly #llmEnd = (event: KernelEventMap['llm:end']): void => {
    if (event.stream) this.#streamsOpen = Math.max(0, this.#streamsOpen - 1)
    if (event.usage !== null) this.#tokens += event.usage.total_tokens
    this.#llm.push(event)
  }

  readonly #toolEnd = (event: KernelEventMap['tool:end']): void => {
    this.#tools.push(event)
  }

  readonly #limitRejected = (): void => {
    this.#rejected++
  }

  /** Closes the current second into a snapshot (the timer calls it each second). */
  tick(): Snapshot {
    const sorted = this.#latencies.subarray(0, this.#samples).sort()
    const pool = this.#kernel.pool.stats()
    const snapshot: Snapshot = {
      t: Date.now(),
      rps: this.#count,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      errors: this.#errors,
      tokensPerSec: this.#tokens,
      streamsOpen: this.#streamsOpen,
      poolQueue: pool.queueSize,
      poolUtilization: Math.round(pool.utilization * 1000) / 1000,
      poolThreads: pool.threads,
      rejected: this.#rejected,
    }
    this.#count = 0
    this.#samples = 0
    this.#errors = {}
    this.#tokens = 0
    this.#rejected = 0
    this.history.push(snapshot)
    if (this.history.length > HISTORY) this.history.shift()
    return snapshot
  }
}
