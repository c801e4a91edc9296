// Server-sent events for chat streams. Headers go out with the first chunk, so anything that fails before
// it (provider down, pool full, timeout) is still a normal HTTP error. Chunks share one id/created/model, so
// their JSON head is serialised once per stream and each chunk serialises only its choice.
import { once } from 'node:events'
import type { FastifyReply } from 'fastify'
import { errorBody, type RobutlerError } from './errors.js'
import type { Context } from './request-context.js'

const DONE = 'data: [DONE]\n\n'

export interface ChunkHead {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
}

export class SseSink {
  readonly #reply: FastifyReply
  readonly #ctx: Context
  #prefix = ''
  #started = false
  #ended = false

  constructor(reply: FastifyReply, ctx: Context) {
    this.#reply = reply
    this.#ctx = ctx
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

  #write(text: string): Promise<void> | undefined {
    if (this.#ended) return undefined
    if (!this.#started) this.#start()
    const raw = this.#reply.raw
    // Back-pressure: wait for the client to read (or leave) rather than buffer without bound.
    if (!raw.write(text) && !raw.destroyed) return once(raw, 'drain', { signal: this.#ctx.signal }).then(() => undefined)
    return undefined
  }

  /** Writes `{...head, choices: [choice]}`; a promise only when the client reads slower than we write. */
  choice(head: ChunkHead, choice: object): Promise<void> | undefined {
    return this.choiceJson(head, JSON.stringify(choice))
  }

  /** The same, with the choice already serialised. */
  choiceJson(head: ChunkHead, choice: string): Promise<void> | undefined {
    if (this.#prefix === '') this.#prefix = `data: ${JSON.stringify(head).slice(0, -1)},"choices":[`
    return this.#write(`${this.#prefix}${choice}]}\n\n`)
  }

  /** Writes a whole chunk object (used when onChunk hooks may have changed it). */
  chunk(chunk: object): Promise<void> | undefined {
    return this.#write(`data: ${JSON.stringify(chunk)}\n\n`)
  }

  /** An error after the first byte: an error event, then [DONE]. */
  fail(error: RobutlerError): void {
    if (this.#ended) return
    if (this.#reply.raw.destroyed) {
      this.#ended = true
      return
    }
    this.#write(`data: ${JSON.stringify(errorBody(error))}\n\n`)
    this.done()
  }

  done(): void {
    if (this.#ended) return
    this.#ended = true
    if (!this.#reply.raw.destroyed) this.#reply.raw.end(DONE)
  }
}
