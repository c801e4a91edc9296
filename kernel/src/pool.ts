// The process's one piscina pool: skills' worker tools run here so the event loop keeps serving.
// piscina's errors carry no codes; they are wrapped in ours here and nowhere else. Each thread runs the kernel's
// pool-worker module, which calls the skill's export, caps its result and watches the thread's memory.
import { pathToFileURL } from 'node:url'
import { Piscina } from 'piscina'
import type { Logger } from 'pino'
import { ERR_POOL_SATURATED, ERR_TOOL_FAILED } from './errors.js'
import type { EventBus } from './events.js'
import { asError, EXIT_EXTERNAL_BUSY, EXIT_EXTERNAL_IDLE, type PoolTask } from './pool-worker.js'

const POOL_WORKER = new URL('./pool-worker.js', import.meta.url).href

export interface PoolSettings {
  /** Threads; 0 runs worker functions on the main thread (for debugging and the main-thread benchmark). */
  threads: number
  /** Tasks that may wait for a thread; one more is refused with 503. */
  maxQueue: number
  /** Node's limits of each thread, and `maxExternalMb`: memory outside the heap a thread may hold before it is ended. */
  resourceLimits?: {
    maxOldGenerationSizeMb?: number
    maxYoungGenerationSizeMb?: number
    codeRangeSizeMb?: number
    stackSizeMb?: number
    maxExternalMb?: number
  }
  /** The largest tool result, in bytes of its JSON text. */
  maxResultBytes: number
}

function exitCode(error: unknown): number | null {
  const match = /worker exited with code: (\d+)/.exec(String((error as Error)?.message))
  return match ? Number(match[1]) : null
}

export interface PoolStats {
  threads: number
  queueSize: number
  /** 0..1, piscina's utilization since the pool started. */
  utilization: number
  completed: number
  failed: number
  /** Threads ended because they held more memory outside the heap than `maxExternalMb`. */
  recycled?: number
}

export class WorkerPool {
  readonly #settings: PoolSettings
  readonly #events: EventBus
  readonly #log: Logger
  #piscina: Piscina | null = null
  // Tasks accepted and not finished. The bound is ours: piscina 5's maxQueue does not refuse a burst that
  // arrives while its threads are busy (seen: six tasks on one thread with maxQueue 2 all queued).
  #pending = 0
  // Tasks handed to piscina, at most one per thread; the rest wait here in arrival order. piscina 5 puts a task
  // that carries an AbortSignal back at the end of its queue while the threads are busy, so under saturation a
  // task could wait for the whole burst (measured: 11 s where 1 s was due); our own FIFO keeps the order.
  #running = 0
  readonly #waiting: Array<{ resolve: () => void; reject: (reason: unknown) => void; signal: AbortSignal; onAbort: () => void }> = []
  #failed = 0
  #recycled = 0
  #closed = false
  readonly #maxExternalBytes: number
  readonly #nodeLimits: Omit<NonNullable<PoolSettings['resourceLimits']>, 'maxExternalMb'>

  constructor(settings: PoolSettings, events: EventBus, log: Logger) {
    this.#settings = settings
    this.#events = events
    this.#log = log
    const { maxExternalMb = 0, ...nodeLimits } = settings.resourceLimits ?? {}
    this.#maxExternalBytes = maxExternalMb * 1024 * 1024
    this.#nodeLimits = nodeLimits
  }

  /** Starts the threads now rather than on the first task. */
  warm(): void {
    this.#pool()
  }

  #pool(): Piscina {
    if (this.#closed) throw ERR_TOOL_FAILED('(pool)', 'the worker pool is closed')
    this.#piscina ??= new Piscina({
      filename: POOL_WORKER,
      minThreads: this.#settings.threads,
      maxThreads: this.#settings.threads,
      idleTimeout: 60_000,
      resourceLimits: this.#nodeLimits,
    })
    return this.#piscina
  }

  /**
   * Runs export `name` of module `filename` with `task` as its one argument. The signal (request abort or tool
   * timeout) cancels a queued task and terminates a running one's thread, which piscina then replaces.
   */
  async run(filename: string, name: string, task: unknown, signal: AbortSignal): Promise<unknown> {
    const started = performance.now()
    const label = `${name}`
    let status: 'ok' | 'error' | 'timeout' | 'aborted' = 'ok'
    if (this.#settings.threads > 0 && this.#pending >= this.#settings.threads + this.#settings.maxQueue) {
      this.#failed++
      throw ERR_POOL_SATURATED(this.#settings.maxQueue)
    }
    this.#pending++
    let slot = false
    try {
      if (this.#settings.threads === 0) return await this.#runInline(filename, name, task, signal)
      await this.#acquire(signal)
      slot = true
      const poolTask: PoolTask = { filename, name, args: task, maxResultBytes: this.#settings.maxResultBytes, maxExternalBytes: this.#maxExternalBytes }
      try {
        return await this.#pool().run(poolTask, { signal })
      } catch (error) {
        // The thread was ended for memory an earlier task left before this one started: this one never ran.
        if (exitCode(error) !== EXIT_EXTERNAL_IDLE || signal.aborted) throw error
        this.#recycled++
        this.#log.warn({ task: name }, 'a worker thread held more memory outside its heap than allowed; it was replaced')
        return await this.#pool().run(poolTask, { signal })
      }
    } catch (error: any) {
      status = signal.aborted ? (signal.reason?.name === 'TimeoutError' ? 'timeout' : 'aborted') : 'error'
      if (status !== 'aborted') this.#failed++
      throw this.#wrap(error, name, signal)
    } finally {
      if (slot) this.#release()
      this.#pending--
      if (this.#events.has('pool:task')) {
        this.#events.emit('pool:task', { name: label, durationMs: performance.now() - started, status })
      }
    }
  }

  /** A thread slot, in arrival order; a signal that fires while waiting leaves the line. */
  #acquire(signal: AbortSignal): Promise<void> {
    if (this.#running < this.#settings.threads) {
      this.#running++
      return Promise.resolve()
    }
    signal.throwIfAborted()
    return new Promise((resolve, reject) => {
      const entry = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.#waiting.indexOf(entry)
          if (index >= 0) this.#waiting.splice(index, 1)
          reject(signal.reason)
        },
      }
      signal.addEventListener('abort', entry.onAbort, { once: true })
      this.#waiting.push(entry)
    })
  }

  #release(): void {
    const next = this.#waiting.shift()
    if (!next) {
      this.#running--
      return
    }
    next.signal.removeEventListener('abort', next.onAbort)
    next.resolve()
  }

  async #runInline(filename: string, name: string, task: unknown, signal: AbortSignal): Promise<unknown> {
    signal.throwIfAborted()
    const module = await import(pathToFileURL(filename).href)
    if (typeof module[name] !== 'function') throw new Error(`the worker module has no export '${name}'`)
    try {
      return await module[name](task)
    } catch (thrown) {
      throw asError(thrown)
    }
  }

  #wrap(error: any, name: string, signal: AbortSignal): unknown {
    if (signal.aborted) return signal.reason
    if (error?.code === 'ERR_WORKER_OUT_OF_MEMORY') return ERR_TOOL_FAILED(name, 'the worker ran out of memory', error)
    if (exitCode(error) === EXIT_EXTERNAL_BUSY) {
      this.#recycled++
      const limit = this.#maxExternalBytes / 1024 / 1024
      this.#log.warn({ task: name, maxExternalMb: limit }, 'a worker tool held more memory outside the heap than allowed; its thread was ended')
      return ERR_TOOL_FAILED(name, `the worker held more than ${limit} MB outside its heap (Buffers); its thread was replaced`, error)
    }
    if (/worker exited|Terminating worker thread/i.test(String(error?.message))) {
      return ERR_TOOL_FAILED(name, 'the worker thread exited during the task', error)
    }
    this.#log.debug({ err: error, task: name }, 'worker task failed')
    return error
  }

  stats(): PoolStats {
    const p = this.#piscina
    return {
      threads: p ? p.threads.length : 0,
      queueSize: this.#waiting.length,
      utilization: p ? p.utilization : 0,
      completed: p ? p.completed : 0,
      failed: this.#failed,
      recycled: this.#recycled,
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const waiting of this.#waiting.splice(0)) waiting.reject(ERR_TOOL_FAILED('(pool)', 'the worker pool is closed'))
    const p = this.#piscina
    this.#piscina = null
    if (p) await p.destroy()
  }
}
