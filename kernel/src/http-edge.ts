// The HTTP edge, below the routes: how long a client may take to send a request (headers, then the whole body),
// how many connections one client address may hold, and OpenAI-shaped answers to what Node refuses before a
// request exists (a request too slow to arrive: 408; headers too large: 431; malformed HTTP: 400).
import { STATUS_CODES, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import { ERR_HEADERS_TOO_LARGE, ERR_INVALID_REQUEST, ERR_RECEIVE_TIMEOUT, errorBody, type RobutlerError } from './errors.js'

export interface EdgeSettings {
  headersTimeoutMs: number
  bodyTimeoutMs: number
  /** 0: no limit. */
  maxConnectionsPerIp: number
  /** Behind a trusted proxy every connection comes from the proxy: the per-address limit is the proxy's job. */
  trustProxy: unknown
}

/** How often Node looks for requests past their time (its default is 30 s, which would triple a 10 s bound). */
export function checkingIntervalMs(settings: Pick<EdgeSettings, 'headersTimeoutMs' | 'bodyTimeoutMs'>): number {
  return Math.max(100, Math.min(5_000, Math.floor(Math.min(settings.headersTimeoutMs, settings.bodyTimeoutMs) / 4)))
}

/** A whole HTTP/1.1 response for a socket no request was parsed on; the connection closes after it. */
function rawAnswer(error: RobutlerError): string {
  const body = JSON.stringify(errorBody(error))
  const retry = error.retryAfter === undefined ? '' : `Retry-After: ${error.retryAfter}\r\n`
  return (
    `HTTP/1.1 ${error.statusCode} ${STATUS_CODES[error.statusCode]}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${retry}` +
    'Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n' +
    body
  )
}

/**
 * Fastify's clientErrorHandler: Node's own refusals, answered OpenAI-shaped. `this` is the Fastify instance.
 * A request that was too slow to arrive is 408 RBT_ERR_RECEIVE_TIMEOUT, headers past Node's limit 431, anything
 * else Node cannot parse (a NUL in a header, a bad method) 400.
 */
export function clientErrorHandler(settings: EdgeSettings): (this: { log: Logger }, error: NodeJS.ErrnoException, socket: Socket) => void {
  const timeout = ERR_RECEIVE_TIMEOUT(settings.headersTimeoutMs / 1000, settings.bodyTimeoutMs / 1000)
  const timeoutAnswer = rawAnswer(timeout)
  const headersAnswer = rawAnswer(ERR_HEADERS_TOO_LARGE())
  return function answerClientError(error, socket) {
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    let answer: string
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') answer = timeoutAnswer
    else if (error.code === 'HPE_HEADER_OVERFLOW') answer = headersAnswer
    else answer = rawAnswer(ERR_INVALID_REQUEST(`Malformed HTTP request (${String(error.code ?? 'unknown').slice(0, 40)})`))
    this.log.debug({ code: error.code, remote: socket.remoteAddress }, 'client error before a request')
    if (socket.writable) socket.end(answer)
    // A client that never reads its answer must not keep the socket: give the answer a moment, then close.
    setTimeout(() => socket.destroy(), 1_000).unref()
  }
}

/** Warns at most this often about refused connections (with how many since the last warning). */
const WARN_EVERY_MS = 10_000

/**
 * Closes a connection at once when its client address already holds `max`: one client cannot take every
 * descriptor the server has. Runs before Node's HTTP parser sees the socket, so a refused connection is never
 * read. Not installed behind a trusted proxy (every connection would come from the proxy's address).
 */
export function limitConnectionsPerIp(server: Server, settings: EdgeSettings, log: Logger): void {
  const max = settings.maxConnectionsPerIp
  if (max <= 0 || (settings.trustProxy !== false && settings.trustProxy !== undefined)) return
  const open = new Map<string, number>()
  let refused = 0
  let warnedAt = 0
  server.prependListener('connection', function limitPerAddress(socket: Socket) {
    const address = socket.remoteAddress ?? ''
    const count = open.get(address) ?? 0
    if (count >= max) {
      socket.destroy()
      refused++
      const now = Date.now()
      if (now - warnedAt >= WARN_EVERY_MS) {
        log.warn({ remote: address, open: count, refused, maxConnectionsPerIp: max }, 'connections refused: this client address holds the most it may')
        warnedAt = now
        refused = 0
      }
      return
    }
    open.set(address, count + 1)
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1
      if (left <= 0) open.delete(address)
      else open.set(address, left)
    })
  })
}
