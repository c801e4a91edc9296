// Server-sent events on a Fastify reply, for every streamed surface. Headers go out with the first frame, so
// anything that fails before it (provider down, pool full, timeout) is still a normal HTTP error. Writes wait
// for a client that reads slower than the server writes, rather than buffer without bound.
import { once } from 'node:events'
import type { FastifyReply } from 'fastify'
import type { Context } from './request-context.js'

export class SseStream {
  readonly #reply: FastifyReply
  readonly #signal: Pick<Context, 'signal'>
  #started = false
  #ended = false

  constructor(reply: FastifyReply, ctx: Pick<Context, 'signal'>) {
    this.#reply = reply
    this.#signal = ctx
  }

  /** The headers (and so the status, 200) have gone out. */
  get started(): boolean {
    return this.#started
  }

  get ended(): boolean {
    return this.#ended
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

  /** Writes frames already in SSE form (`data: …\n\n`); a promise only when the client must catch up. */
  write(frames: string): Promise<void> | undefined {
    if (this.#ended) return undefined
    const raw = this.#reply.raw
    // A client that left: nothing more to write (its request is being aborted).
    if (raw.destroyed) {
      this.#ended = true
      return undefined
    }
    if (!this.#started) this.#start()
    if (!raw.write(frames) && !raw.destroyed) return once(raw, 'drain', { signal: this.#signal.signal }).then(() => undefined)
    return undefined
  }

  /** One event: `event: NAME` (when given), then `data: JSON`. */
  send(data: unknown, event?: string): Promise<void> | undefined {
    const json = JSON.stringify(data)
    return this.write(event === undefined ? `data: ${json}\n\n` : `event: ${event}\ndata: ${json}\n\n`)
  }

  /** Ends the stream, after a last piece when given. */
  end(last?: string): void {
    if (this.#ended) return
    this.#ended = true
    const raw = this.#reply.raw
    if (raw.destroyed) return
    if (!this.#started && last !== undefined) this.#start()
    if (this.#started) raw.end(last)
  }
}
