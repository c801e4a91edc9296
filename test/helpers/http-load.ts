// A bounded load generator for reliability tests: node:http requests (keep-alive Agent or a fresh connection
// each) that never reject and never hang — every call ends as a response, a connection error, a deliberate
// client abort or TIMEOUT — and a runner that keeps N calls in flight for a bounded count and time.
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http'

export interface CallOptions {
  method?: string
  headers?: Record<string, string>
  /** Sent as JSON unless it is a string (then as is). */
  body?: unknown
  /** A keep-alive Agent, or false for a fresh connection that closes after the answer. */
  agent: Agent | false
  /** A call still unfinished after this long is destroyed and ends with error 'TIMEOUT' (a hung request). */
  timeoutMs: number
  /** Destroys the request once the first body bytes arrived: a client that goes away mid-stream. */
  abortAfterFirstChunk?: boolean
  /** Called once, when the first body bytes arrive. */
  onFirstChunk?: () => void
}

export interface CallResult {
  /** null: no response head arrived. */
  status: number | null
  headers: IncomingHttpHeaders
  text: string
  /** The parsed body of a JSON answer (null otherwise). */
  json: any
  /** The `data:` payloads of an SSE answer, and whether `[DONE]` closed it (null for other answers). */
  sse: { events: any[]; done: boolean } | null
  /** ECONNRESET, ECONNREFUSED, 'socket hang up', 'TIMEOUT', 'TRUNCATED' (the body ended early); null: none. */
  error: string | null
  /** We destroyed it on purpose after the first chunk. */
  aborted: boolean
  /** The request went out on a keep-alive socket that had served an earlier one. */
  reusedSocket: boolean
  startedAt: number
  endedAt: number
}

/** `data: …` blocks of an SSE body. */
export function parseSse(text: string): { events: any[]; done: boolean } {
  const events: any[] = []
  let done = false
  for (const block of text.split('\n\n')) {
    if (!block.startsWith('data: ')) continue
    const data = block.slice(6)
    if (data === '[DONE]') done = true
    else {
      try {
        events.push(JSON.parse(data))
      } catch {
        events.push({ unparsable: data })
      }
    }
  }
  return { events, done }
}

/** The text content of an SSE chat stream, and the error events in it. */
export function streamText(events: any[]): { content: string; errors: any[] } {
  let content = ''
  const errors: any[] = []
  for (const event of events) {
    if (event.error) errors.push(event.error)
    for (const choice of event.choices ?? []) if (typeof choice.delta?.content === 'string') content += choice.delta.content
  }
  return { content, errors }
}

/** One HTTP call; resolves in every case, at the latest `timeoutMs` after it started. */
export function call(url: string, options: CallOptions): Promise<CallResult> {
  return new Promise((resolve) => {
    const result: CallResult = {
      status: null,
      headers: {},
      text: '',
      json: null,
      sse: null,
      error: null,
      aborted: false,
      reusedSocket: false,
      startedAt: performance.now(),
      endedAt: 0,
    }
    const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body)
    const headers: Record<string, string> = { ...options.headers }
    if (body !== undefined) {
      headers['content-type'] ??= 'application/json'
      headers['content-length'] = String(Buffer.byteLength(body))
    }
    let settled = false
    const finish = () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      result.endedAt = performance.now()
      const type = String(result.headers['content-type'] ?? '')
      if (type.startsWith('text/event-stream')) result.sse = parseSse(result.text)
      else if (type.startsWith('application/json')) {
        try {
          result.json = JSON.parse(result.text)
        } catch {
          // a truncated body: `error` says so
        }
      }
      resolve(result)
    }
    const req = httpRequest(url, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), agent: options.agent, headers })
    const timer = setTimeout(() => {
      result.error = 'TIMEOUT'
      req.destroy()
      finish()
    }, options.timeoutMs)
    req.on('socket', () => (result.reusedSocket = req.reusedSocket))
    req.on('error', (error: NodeJS.ErrnoException) => {
      result.error ??= error.code ?? error.message
      finish()
    })
    req.on('response', (res) => {
      result.status = res.statusCode ?? null
      result.headers = res.headers
      res.setEncoding('utf8')
      res.on('data', (text: string) => {
        if (result.text === '') options.onFirstChunk?.()
        result.text += text
        if (options.abortAfterFirstChunk && !result.aborted) {
          result.aborted = true
          req.destroy()
          finish()
        }
      })
      res.on('error', (error: NodeJS.ErrnoException) => {
        result.error ??= error.code ?? error.message
        finish()
      })
      res.on('close', () => {
        if (!res.complete && !result.aborted) result.error ??= 'TRUNCATED'
        finish()
      })
    })
    req.end(body)
  })
}

/** Counts outcomes by category and keeps the first few unexpected ones whole, for the failure message. */
export class Tally {
  readonly counts: Record<string, number> = {}
  readonly unexpected: Array<{ index: number; category: string; detail: string }> = []
  #unexpectedCount = 0
  readonly durations = new Map<string, number[]>()

  add(category: string, durationMs?: number): void {
    this.counts[category] = (this.counts[category] ?? 0) + 1
    if (durationMs !== undefined) {
      let list = this.durations.get(category)
      if (!list) this.durations.set(category, (list = []))
      list.push(durationMs)
    }
  }

  /** An outcome nobody planned: counted under `unexpected:<category>`, the first 20 kept with their detail. */
  fail(index: number, category: string, detail: string): void {
    this.#unexpectedCount++
    this.add(`unexpected:${category}`)
    if (this.unexpected.length < 20) this.unexpected.push({ index, category, detail: detail.slice(0, 400) })
  }

  get unexpectedCount(): number {
    return this.#unexpectedCount
  }

  total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0)
  }

  /** p50/p99/max in ms for each category that recorded durations. */
  timings(): Record<string, { n: number; p50: number; p99: number; max: number }> {
    const out: Record<string, { n: number; p50: number; p99: number; max: number }> = {}
    for (const [category, list] of this.durations) {
      const sorted = [...list].sort((a, b) => a - b)
      const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10
      out[category] = { n: sorted.length, p50: at(0.5), p99: at(0.99), max: at(1) }
    }
    return out
  }
}

/** A one-line summary of a call, for failure messages. */
export function describeCall(result: CallResult): string {
  return `status=${result.status} error=${result.error} aborted=${result.aborted} reused=${result.reusedSocket} body=${result.text.slice(0, 300)}`
}

export interface LoadOptions {
  /** Jobs to run, numbered 0..total-1. */
  total: number
  /** Jobs in flight at once. */
  concurrency: number
  /** No job starts after this long; those not started are reported. */
  maxMs: number
  /** One job; it must not reject (a rejection is counted and reported as unexpected). */
  job: (index: number) => Promise<void>
  /** Called after each finished job with the count finished so far. */
  onProgress?: (finished: number) => void | Promise<void>
  /** Set to true to stop starting new jobs. */
  stop?: { stopped: boolean }
}

export interface LoadReport {
  started: number
  finished: number
  rejected: Array<{ index: number; error: string }>
  elapsedMs: number
}

/** Runs `total` jobs with `concurrency` in flight; resolves when every started job has finished. */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const began = performance.now()
  let next = 0
  let finished = 0
  const rejected: LoadReport['rejected'] = []
  const lane = async () => {
    for (;;) {
      if (next >= options.total || performance.now() - began > options.maxMs || options.stop?.stopped) return
      const index = next++
      try {
        await options.job(index)
      } catch (error) {
        rejected.push({ index, error: String((error as Error)?.stack ?? error).slice(0, 500) })
      }
      finished++
      if (options.onProgress) await options.onProgress(finished)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, lane))
  return { started: next, finished, rejected, elapsedMs: performance.now() - began }
}

/** A keep-alive client pool of `sockets` connections. */
export function keepAliveAgent(sockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, keepAliveMsecs: 1000 })
}
