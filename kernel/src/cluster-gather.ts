// Gathering one value from every serving process, for figures that must cover the whole cluster (the
// /metrics of `--workers N` is the sum of all workers). A worker asks the primary, the primary asks every
// worker, answers are collected with a timeout. In a single process, gather is the local handler's answer.
// The primary also keeps the last answer of each worker: when a worker dies (or does not answer in time), what it
// last answered comes back as `departed`, so counters summed over the cluster never go down when one is replaced.
// A topic's `merge` folds the departed answers into one, which the asker hands back: the primary keeps one per
// topic, however many workers have died.
import cluster from 'node:cluster'

export type GatherHandler = () => unknown | Promise<unknown>

export interface GatherOptions {
  /** Folds several departed answers into one (summing counters, say), so the primary keeps one per topic. */
  merge?: (values: unknown[]) => unknown | Promise<unknown>
}

/** What a gather answers: the live processes' answers, and what departed ones last answered. */
export interface Gathered {
  values: unknown[]
  /**
   * The last answers of workers that died since, or that did not answer this time: sum their counters, never
   * their gauges (a dead process has nothing in progress).
   */
  departed: unknown[]
}

export interface GatherMessage {
  robutler: 'gather' | 'collect' | 'collected' | 'gathered' | 'compact'
  id: number
  topic: string
  value?: unknown
  values?: unknown[]
  departed?: unknown[]
  /** gathered: the ids of the departed answers that are answers of dead workers; compact: the ids merged into `value`. */
  departedIds?: number[]
}

const DEFAULT_TIMEOUT_MS = 2_000

function isGatherMessage(message: unknown): message is GatherMessage {
  return typeof message === 'object' && message !== null && typeof (message as GatherMessage).robutler === 'string'
}

/** How a worker talks to the primary: node:cluster's process IPC (a test passes its own). */
export interface GatherChannel {
  readonly isWorker: boolean
  send(message: GatherMessage & { timeoutMs?: number }): void
  on(event: 'message', listener: (message: unknown) => void): unknown
  off(event: 'message', listener: (message: unknown) => void): unknown
}

const processChannel: GatherChannel = {
  get isWorker() {
    return cluster.isWorker && typeof process.send === 'function'
  },
  send: (message) => void process.send?.(message),
  on: (event, listener) => process.on(event, listener),
  off: (event, listener) => process.off(event, listener),
}

/** The worker (or single-process) side: one per kernel, listening on the channel until it is closed. */
export class ClusterGather {
  readonly #channel: GatherChannel
  readonly #handlers = new Map<string, GatherHandler>()
  readonly #merges = new Map<string, NonNullable<GatherOptions['merge']>>()
  readonly #waiting = new Map<number, (message: GatherMessage) => void>()
  #nextId = 1
  #listener: ((message: unknown) => void) | null = null

  constructor(channel: GatherChannel = processChannel) {
    this.#channel = channel
  }

  get isWorker(): boolean {
    return this.#channel.isWorker
  }

  onGather(topic: string, handler: GatherHandler, options: GatherOptions = {}): void {
    if (this.#handlers.has(topic)) throw new Error(`a gather handler for '${topic}' is already registered`)
    this.#handlers.set(topic, handler)
    if (options.merge) this.#merges.set(topic, options.merge)
    this.#listen()
  }

  /** Every process's answer for `topic` (this one's included); processes that do not answer in time are left out. */
  async gather(topic: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown[]> {
    return (await this.gatherAll(topic, timeoutMs)).values
  }

  /** gather, with what departed workers last answered (see Gathered). */
  async gatherAll(topic: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Gathered> {
    if (!this.#channel.isWorker) {
      const handler = this.#handlers.get(topic)
      return { values: handler ? [await handler()] : [], departed: [] }
    }
    this.#listen()
    const id = this.#nextId++
    const answer = await new Promise<GatherMessage | null>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id)
        resolve(null)
      }, timeoutMs + 500)
      this.#waiting.set(id, (message) => {
        clearTimeout(timer)
        resolve(message)
      })
      this.#channel.send({ robutler: 'gather', id, topic, timeoutMs })
    })
    if (answer === null) return { values: [], departed: [] }
    const departed = answer.departed ?? []
    await this.#compact(topic, departed, answer.departedIds ?? [])
    return { values: answer.values ?? [], departed }
  }

  /** Hands the primary one merged answer for the departed ones it holds, when the topic can merge. */
  async #compact(topic: string, departed: unknown[], ids: number[]): Promise<void> {
    const merge = this.#merges.get(topic)
    if (!merge || ids.length < 2) return
    try {
      const value = await merge(departed.slice(0, ids.length))
      this.#channel.send({ robutler: 'compact', id: 0, topic, value, departedIds: ids })
    } catch {
      // Not merged this time: the primary keeps the answers as they are, and the next gather tries again.
    }
  }

  /** Stops listening: a closed kernel leaves no listener on the process (several kernels may come and go in one). */
  close(): void {
    if (this.#listener) this.#channel.off('message', this.#listener)
    this.#listener = null
  }

  #listen(): void {
    if (this.#listener || !this.#channel.isWorker) return
    this.#listener = (message: unknown) => {
      if (!isGatherMessage(message)) return
      if (message.robutler === 'gathered') {
        this.#waiting.get(message.id)?.(message)
        this.#waiting.delete(message.id)
      } else if (message.robutler === 'collect') {
        const reply = (value: unknown) => this.#channel.send({ robutler: 'collected', id: message.id, topic: message.topic, value })
        const handler = this.#handlers.get(message.topic)
        // A handler that throws, even synchronously, answers undefined: never an uncaught error in the worker.
        Promise.resolve()
          .then(() => handler?.())
          .then(reply, () => reply(undefined))
      }
    }
    this.#channel.on('message', this.#listener)
  }
}

/** The primary's view of node:cluster (a test passes its own). */
export interface RelayCluster {
  workers(): Array<{ id: number; isConnected(): boolean; send(message: GatherMessage): unknown }>
  onMessage(listener: (from: { id: number; isConnected(): boolean; send(message: GatherMessage): unknown }, message: unknown) => void): void
  offMessage(listener: (from: { id: number; isConnected(): boolean; send(message: GatherMessage): unknown }, message: unknown) => void): void
  onExit(listener: (worker: { id: number }) => void): void
}

/** Departed answers kept per topic when no asker merges them (a topic without merge, or no scrapes for long). */
const MAX_DEPARTED = 256

interface DepartedAnswer {
  id: number
  value: unknown
}

/** The primary side: relays a worker's gather to every worker, keeps each one's last answer, and what dead ones said. */
export class GatherRelay {
  readonly #cluster: RelayCluster
  /** topic → worker id → its last answer. */
  readonly #last = new Map<string, Map<number, unknown>>()
  /** topic → the last answers of dead workers (or one merged answer standing for several). */
  readonly #departed = new Map<string, DepartedAnswer[]>()
  #nextId = 1
  #nextDepartedId = 1

  constructor(clusterView: RelayCluster) {
    this.#cluster = clusterView
    clusterView.onMessage((from, message) => {
      if (!isGatherMessage(message)) return
      if (message.robutler === 'gather') this.#relay(from, message)
      else if (message.robutler === 'compact') this.#compact(message)
    })
    clusterView.onExit((worker) => this.#retire(worker.id))
  }

  /** A dead worker's last answers become departed answers of their topics. */
  #retire(workerId: number): void {
    for (const [topic, byWorker] of this.#last) {
      if (!byWorker.has(workerId)) continue
      const list = this.#departed.get(topic) ?? []
      list.push({ id: this.#nextDepartedId++, value: byWorker.get(workerId) })
      // Past the bound the oldest go: a topic nobody gathers for long (and so never merges) stays bounded.
      if (list.length > MAX_DEPARTED) list.splice(0, list.length - MAX_DEPARTED)
      this.#departed.set(topic, list)
      byWorker.delete(workerId)
    }
  }

  #compact(message: GatherMessage): void {
    const list = this.#departed.get(message.topic)
    const ids = new Set(message.departedIds ?? [])
    if (!list || ids.size < 2 || !list.slice(0, ids.size).every((entry) => ids.has(entry.id))) return
    list.splice(0, ids.size, { id: this.#nextDepartedId++, value: message.value })
  }

  #relay(from: { id: number; isConnected(): boolean; send(message: GatherMessage): unknown }, message: GatherMessage): void {
    const workers = this.#cluster.workers().filter((w) => w.isConnected())
    const relayId = this.#nextId++
    const answered = new Map<number, unknown>()
    let pending = workers.length
    const last = this.#last.get(message.topic) ?? new Map<number, unknown>()
    this.#last.set(message.topic, last)
    const finish = () => {
      clearTimeout(timer)
      this.#cluster.offMessage(onCollected)
      if (!from.isConnected()) return
      const departed = this.#departed.get(message.topic) ?? []
      // A live worker that did not answer in time: what it said last stands in for it, among the departed.
      const silent = workers.filter((w) => !answered.has(w.id) && last.has(w.id)).map((w) => last.get(w.id))
      from.send({
        robutler: 'gathered',
        id: message.id,
        topic: message.topic,
        values: [...answered.values()],
        departed: [...departed.map((entry) => entry.value), ...silent],
        departedIds: departed.map((entry) => entry.id),
      })
    }
    const onCollected = (worker: { id: number }, reply: unknown) => {
      if (!isGatherMessage(reply) || reply.robutler !== 'collected' || reply.id !== relayId) return
      if (reply.value !== undefined) {
        answered.set(worker.id, reply.value)
        last.set(worker.id, reply.value)
      }
      if (--pending === 0) finish()
    }
    const timer = setTimeout(finish, (message as { timeoutMs?: number }).timeoutMs ?? DEFAULT_TIMEOUT_MS)
    this.#cluster.onMessage(onCollected)
    if (pending === 0) return finish()
    for (const worker of workers) worker.send({ robutler: 'collect', id: relayId, topic: message.topic })
  }
}

/** The primary side, over node:cluster: see GatherRelay. */
export function relayGathers(): GatherRelay {
  return new GatherRelay({
    workers: () => Object.values(cluster.workers ?? {}).filter((w) => w !== undefined),
    onMessage: (listener) => void cluster.on('message', listener),
    offMessage: (listener) => void cluster.removeListener('message', listener),
    onExit: (listener) => void cluster.on('exit', listener),
  })
}
