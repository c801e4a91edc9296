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
 * A second's latencies, at most this many (past it, a uniform sample of the second's: reservoir sampling), in a
 * typed array: its native numeric sort is several times faster than a plain array's with a comparator.
 */
const MAX_SAMPLES = 20_000

/**
 * The newest `size` rows, oldest overwritten, stored by column: numbers in typed arrays, strings (most of them the
 * kernel's own: agent names, route patterns, codes) in arrays. Keeping the kernel's event objects for 500 requests
 * instead outlived the young generation, and promoting them cost every request more than the listeners did.
 */
class Columns<N extends string, S extends string> {
  readonly size: number
  readonly num: Record<N, Float64Array>
  readonly str: Record<S, Array<string | null>>
  #next = 0
  #count = 0

  constructor(size: number, numbers: readonly N[], strings: readonly S[]) {
    this.size = size
    this.num = Object.fromEntries(numbers.map((name) => [name, new Float64Array(size)])) as Record<N, Float64Array>
    this.str = Object.fromEntries(strings.map((name) => [name, new Array<string | null>(size).fill(null)])) as Record<S, Array<string | null>>
  }

  /** The row to write next. */
  slot(): number {
    const at = this.#next
    this.#next = (at + 1) % this.size
    if (this.#count < this.size) this.#count++
    return at
  }

  /** Rows, newest first. */
  rows(): number[] {
    const out: number[] = []
    for (let i = 1; i <= this.#count; i++) out.push((this.#next - i + this.size) % this.size)
    return out
  }
}

const REQUEST_NUMBERS = ['time', 'status', 'durationMs', 'aborted'] as const
const REQUEST_STRINGS = ['id', 'agent', 'method', 'route', 'error'] as const
const LLM_NUMBERS = ['durationMs', 'ttftMs', 'tokens'] as const
const LLM_STRINGS = ['id', 'provider', 'model', 'error'] as const
const TOOL_NUMBERS = ['durationMs'] as const
const TOOL_STRINGS = ['id', 'tool', 'skill', 'status'] as const

export class Recorder {
  readonly #kernel: KernelApi
  readonly #base: string
  readonly #ended: Columns<(typeof REQUEST_NUMBERS)[number], (typeof REQUEST_STRINGS)[number]>
  readonly #llm: Columns<(typeof LLM_NUMBERS)[number], (typeof LLM_STRINGS)[number]>
  readonly #tools: Columns<(typeof TOOL_NUMBERS)[number], (typeof TOOL_STRINGS)[number]>
  readonly history: Snapshot[] = []
  #timer: NodeJS.Timeout | null = null
  /**
   * The time a request is recorded at, to a quarter of a second: reading the clock costs ~0.2 µs on some machines
   * (a VM's clock source), too much for every request when the page shows seconds.
   */
  #clock = Date.now()
  #clockTimer: NodeJS.Timeout | null = null
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
    this.#ended = new Columns(size, REQUEST_NUMBERS, REQUEST_STRINGS)
    this.#llm = new Columns(size * CALLS_PER_REQUEST, LLM_NUMBERS, LLM_STRINGS)
    this.#tools = new Columns(size * CALLS_PER_REQUEST, TOOL_NUMBERS, TOOL_STRINGS)
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
    this.#clockTimer = setInterval(() => (this.#clock = Date.now()), 250)
    this.#clockTimer.unref()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    if (this.#clockTimer) clearInterval(this.#clockTimer)
    this.#timer = null
    this.#clockTimer = null
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
    const llm = this.#llm
    for (const at of llm.rows().reverse()) {
      const tokens = llm.num.tokens[at]
      const ttft = llm.num.ttftMs[at]
      of(llm.str.id[at]!).models.push({
        model: `${llm.str.provider[at]}/${llm.str.model[at]}`,
        durationMs: llm.num.durationMs[at],
        ttftMs: Number.isNaN(ttft) ? null : ttft,
        tokens: tokens < 0 ? null : tokens,
        error: llm.str.error[at],
      })
    }
    const tools = this.#tools
    for (const at of tools.rows().reverse()) {
      of(tools.str.id[at]!).tools.push({ tool: tools.str.tool[at]!, skill: tools.str.skill[at], durationMs: tools.num.durationMs[at], status: tools.str.status[at]! })
    }
    const ended = this.#ended
    return ended.rows().map((at) => {
      const id = ended.str.id[at]!
      const { models, tools } = calls.get(id) ?? { models: [], tools: [] }
      const route = ended.str.route[at]!
      return {
        id,
        pid: process.pid,
        time: ended.num.time[at],
        agent: ended.str.agent[at],
        surface: surfaceOf(route),
        method: ended.str.method[at]!,
        route,
        status: ended.num.status[at],
        durationMs: ended.num.durationMs[at],
        tokens: models.reduce<number | null>((sum, call) => (call.tokens === null ? sum : (sum ?? 0) + call.tokens), null),
        error: ended.str.error[at],
        aborted: ended.num.aborted[at] === 1,
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
    const ended = this.#ended
    const at = ended.slot()
    ended.num.time[at] = this.#clock
    ended.num.status[at] = event.status
    ended.num.durationMs[at] = event.durationMs
    ended.num.aborted[at] = event.aborted ? 1 : 0
    ended.str.id[at] = event.requestId
    ended.str.agent[at] = event.agent
    ended.str.method[at] = event.method
    ended.str.route[at] = event.route
    ended.str.error[at] = event.error
  }

  readonly #llmStart = (event: KernelEventMap['llm:start']): void => {
    if (event.stream) this.#streamsOpen++
  }

  readonly #llmEnd = (event: KernelEventMap['llm:end']): void => {
    if (event.stream) this.#streamsOpen = Math.max(0, this.#streamsOpen - 1)
    if (event.usage !== null) this.#tokens += event.usage.total_tokens
    const llm = this.#llm
    const at = llm.slot()
    llm.num.durationMs[at] = event.durationMs
    llm.num.ttftMs[at] = event.ttftMs ?? Number.NaN
    llm.num.tokens[at] = event.usage?.total_tokens ?? -1
    llm.str.id[at] = event.requestId
    llm.str.provider[at] = event.provider
    llm.str.model[at] = event.model
    llm.str.error[at] = event.error
  }

  readonly #toolEnd = (event: KernelEventMap['tool:end']): void => {
    const tools = this.#tools
    const at = tools.slot()
    tools.num.durationMs[at] = event.durationMs
    tools.str.id[at] = event.requestId
    tools.str.tool[at] = event.tool
    tools.str.skill[at] = event.skill
    tools.str.status[at] = event.status
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
