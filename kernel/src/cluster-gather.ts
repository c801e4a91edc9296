// Gathering one value from every serving process, for figures that must cover the whole cluster (the
// /metrics of `--workers N` is the sum of all workers). A worker asks the primary, the primary asks every
// worker, answers are collected with a timeout. In a single process, gather is the local handler's answer.
import cluster from 'node:cluster'

export type GatherHandler = () => unknown | Promise<unknown>

export interface GatherMessage {
  robutler: 'gather' | 'collect' | 'collected' | 'gathered'
  id: number
  topic: string
  value?: unknown
  values?: unknown[]
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
  readonly #waiting = new Map<number, (values: unknown[]) => void>()
  #nextId = 1
  #listener: ((message: unknown) => void) | null = null

  constructor(channel: GatherChannel = processChannel) {
    this.#channel = channel
  }

  get isWorker(): boolean {
    return this.#channel.isWorker
  }

  onGather(topic: string, handler: GatherHandler): void {
    if (this.#handlers.has(topic)) throw new Error(`a gather handler for '${topic}' is already registered`)
    this.#handlers.set(topic, handler)
    this.#listen()
  }

  /** Every process's answer for `topic` (this one's included); processes that do not answer in time are left out. */
  async gather(topic: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown[]> {
    if (!this.#channel.isWorker) {
      const handler = this.#handlers.get(topic)
      return handler ? [await handler()] : []
    }
    this.#listen()
    const id = this.#nextId++
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id)
        resolve([])
      }, timeoutMs + 500)
      this.#waiting.set(id, (values) => {
        clearTimeout(timer)
        resolve(values)
      })
      this.#channel.send({ robutler: 'gather', id, topic, timeoutMs })
    })
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
        this.#waiting.get(message.id)?.(message.values ?? [])
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

/** The primary side: relays a worker's gather to every worker and answers it with what came back. */
export function relayGathers(): void {
  let nextId = 1
  cluster.on('message', (from, message: unknown) => {
    if (!isGatherMessage(message) || message.robutler !== 'gather') return
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined && w.isConnected())
    const relayId = nextId++
    const values: unknown[] = []
    let pending = workers.length
    const finish = () => {
      clearTimeout(timer)
      cluster.removeListener('message', onCollected)
      if (from.isConnected()) from.send({ robutler: 'gathered', id: message.id, topic: message.topic, values } satisfies GatherMessage)
    }
    const onCollected = (_worker: unknown, reply: unknown) => {
      if (!isGatherMessage(reply) || reply.robutler !== 'collected' || reply.id !== relayId) return
      if (reply.value !== undefined) values.push(reply.value)
      if (--pending === 0) finish()
    }
    const timer = setTimeout(finish, (message as { timeoutMs?: number }).timeoutMs ?? DEFAULT_TIMEOUT_MS)
    cluster.on('message', onCollected)
    if (pending === 0) return finish()
    for (const worker of workers) worker!.send({ robutler: 'collect', id: relayId, topic: message.topic } satisfies GatherMessage)
  })
}
