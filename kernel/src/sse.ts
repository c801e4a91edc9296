// Server-sent events for chat streams. Headers go out with the first chunk, so anything that fails before
// it (provider down, pool full, timeout) is still a normal HTTP error.
import { once } from 'node:events'
import type { FastifyReply } from 'fastify'
import { errorBody, type RobutlerError } from './errors.js'

const DONE = 'data: [DONE]\n\n'

export class SseSink {
  readonly #reply: FastifyReply
  readonly #signal: AbortSignal
  #started = false
  #ended = false

  constructor(reply: FastifyReply, signal: AbortSignal) {
    this.#reply = reply
    this.#signal = signal
  }

  get started(): boolean {
    return this.#started
  }

  #start(): void {
    this.#started = true
    const reply = this.#reply
    reply.hijack()
    // Headers set by hooks (CORS, request id, security) live on the reply; a hijacked reply must copy them.
    reply.raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    })
  }

  /** Writes one chunk; waits when the client reads slower than we write. */
  async send(chunk: unknown): Promise<void> {
    if (this.#ended) return
    if (!this.#started) this.#start()
    const raw = this.#reply.raw
    if (!raw.write(`data: ${JSON.stringify(chunk)}\n\n`) && !raw.destroyed) await once(raw, 'drain', { signal: this.#signal })
  }

  /** An error after the first byte: an error event, then [DONE]. */
  fail(error: RobutlerError): void {
    if (this.#ended) return
    if (!this.#started) this.#start()
    this.#reply.raw.write(`data: ${JSON.stringify(errorBody(error))}\n\n`)
    this.done()
  }

  done(): void {
    if (this.#ended) return
    this.#ended = true
    if (!this.#reply.raw.destroyed) this.#reply.raw.end(DONE)
  }
}
