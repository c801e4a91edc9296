// Pings for streams that have been silent (a long tool run, a model thinking): one sweep for every open stream of
// the plugin rather than a timer per request.
import type { MessageStream } from './stream.js'

export class Keepalive {
  readonly #intervalMs: number
  readonly #streams = new Set<MessageStream>()
  #timer: NodeJS.Timeout | null = null

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs
  }

  /** Pings `stream` whenever a whole interval passes without a frame, until forget(). */
  watch(stream: MessageStream): void {
    this.#streams.add(stream)
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#sweep(), this.#intervalMs)
      this.#timer.unref()
    }
  }

  forget(stream: MessageStream): void {
    this.#streams.delete(stream)
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    this.#streams.clear()
  }

  #sweep(): void {
    if (this.#streams.size === 0) return this.close()
    for (const stream of this.#streams) {
      // Silent since the last sweep (a stream first seen now waits one more interval).
      if (stream.writes === stream.seen) stream.ping()
      stream.seen = stream.writes
    }
  }
}
