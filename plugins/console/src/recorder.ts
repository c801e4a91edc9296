// The console's figures, from the kernel's events alone (no Prometheus): the last N finished requests, and one
// snapshot a second (requests/s, p50/p99 latency, errors by code, tokens/s, streams open, pool queue and
// utilisation, rate-limit rejections) with the last minute kept. A listener does a push or an increment; the
// sorting and summing happen once a second, off the request path.
import type { KernelApi, KernelEventMap } from '@robutler/kernel'

/** One finished request as the console lists it: ids, timings and codes, never a header, body or URL query. */
export interface RecentRequest {
  id: string
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
/** Requests whose model calls and tools are being collected: bounded, so lost request:end events cannot grow it. */
const MAX_PENDING = 10_000

/** Which protocol a route belongs to, from its pattern. */
function surfaceOf(route: string): string {
  if (route.endsWith('/chat/completions')) return 'chat'
  if (route.endsWith('/v1/messages') || route.endsWith('/v1/messages/count_tokens')) return 'messages'
  if (route.endsWith('/responses') || route.includes('/responses/') || route.includes('/conversations')) return 'responses'
  if (route.endsWith('/mcp')) return 'mcp'
  if (route.endsWith('/chat')) return 'console'
  return 'http'
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

export class Recorder {
  readonly #kernel: KernelApi
  readonly #size: number
  readonly #base: string
  readonly #recent: RecentRequest[] = []
  readonly #pending = new Map<string, Pick<RecentRequest, 'models' | 'tools'>>()
  readonly history: Snapshot[] = []
  #timer: NodeJS.Timeout | null = null
  // The current second's figures.
  #count = 0
  #latencies: number[] = []
  #errors: Record<string, number> = {}
  #tokens = 0
  #rejected = 0
  #streamsOpen = 0

  /** `base`: the console's own path: its page and polling are not traffic to show (its chat is). */
  constructor(kernel: KernelApi, size: number, base: string) {
    this.#kernel = kernel
    this.#size = size
    this.#base = base
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

  /** Newest first. */
  recent(): RecentRequest[] {
    return this.#recent.slice().reverse()
  }

  find(id: string): RecentRequest | undefined {
    return this.#recent.find((request) => request.id === id)
  }

  #pendingOf(requestId: string): Pick<RecentRequest, 'models' | 'tools'> | null {
    let pending = this.#pending.get(requestId)
    if (pending === undefined) {
      if (this.#pending.size >= MAX_PENDING) return null
      pending = { models: [], tools: [] }
      this.#pending.set(requestId, pending)
    }
    return pending
  }

  readonly #requestEnd = (event: KernelEventMap['request:end']): void => {
    const pending = this.#pending.get(event.requestId)
    this.#pending.delete(event.requestId)
    if (event.route.startsWith(this.#base) && event.route !== `${this.#base}/chat`) return
    this.#count++
    this.#latencies.push(event.durationMs)
    if (event.error !== null) this.#errors[event.error] = (this.#errors[event.error] ?? 0) + 1
    const models = pending?.models ?? []
    const tokens = models.reduce<number | null>((sum, call) => (call.tokens === null ? sum : (sum ?? 0) + call.tokens), null)
    this.#recent.push({
      id: event.requestId,
      time: Date.now(),
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
      tools: pending?.tools ?? [],
    })
    if (this.#recent.length > this.#size) this.#recent.splice(0, this.#recent.length - this.#size)
  }

  readonly #llmStart = (event: KernelEventMap['llm:start']): void => {
    if (event.stream) this.#streamsOpen++
  }

  readonly #llmEnd = (event: KernelEventMap['llm:end']): void => {
    if (event.stream) this.#streamsOpen = Math.max(0, this.#streamsOpen - 1)
    const tokens = event.usage?.total_tokens ?? null
    if (tokens !== null) this.#tokens += tokens
    this.#pendingOf(event.requestId)?.models.push({ model: `${event.provider}/${event.model}`, durationMs: event.durationMs, ttftMs: event.ttftMs, tokens, error: event.error })
  }

  readonly #toolEnd = (event: KernelEventMap['tool:end']): void => {
    this.#pendingOf(event.requestId)?.tools.push({ tool: event.tool, skill: event.skill, durationMs: event.durationMs, status: event.status })
  }

  readonly #limitRejected = (): void => {
    this.#rejected++
  }

  /** Closes the current second into a snapshot (the timer calls it each second). */
  tick(): Snapshot {
    const sorted = this.#latencies.sort((a, b) => a - b)
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
    this.#latencies = []
    this.#errors = {}
    this.#tokens = 0
    this.#rejected = 0
    this.history.push(snapshot)
    if (this.history.length > HISTORY) this.history.shift()
    for (const listener of this.#listeners) listener(snapshot)
    return snapshot
  }

  readonly #listeners = new Set<(snapshot: Snapshot) => void>()

  /** Calls `fn` with each new snapshot until the returned function is called. */
  subscribe(fn: (snapshot: Snapshot) => void): () => void {
    this.#listeners.add(fn)
    return () => this.#listeners.delete(fn)
  }
}
