// Who may use the console. With an authenticator: a key whose identity has scope `admin` and no agent list (an
// admin of the whole server, not of some agents). Without one (the demo): only clients on this machine, reached
// directly (a proxy on this machine would make every client look local, so a forwarded request is refused).
import type { FastifyRequest } from 'fastify'
import type { Identity } from '@robutler/kernel'
import { ERR_CONSOLE_KEY_REQUIRED, ERR_CONSOLE_LOOPBACK_ONLY, ERR_CONSOLE_NOT_ADMIN } from './errors.js'

export type AccessMode = 'admin-key' | 'loopback'

/** 127.0.0.0/8, ::1, and IPv4 loopback mapped into IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return v4.startsWith('127.') || address === '::1'
}

/** Whether the caller may see the page itself (it holds no data: with a key, anyone may load it to type one). */
export function checkPage(mode: AccessMode, request: FastifyRequest): void {
  if (mode === 'loopback') checkLoopback(request)
}

/** The host a request names (`Host`), without its port: `127.0.0.1`, `localhost`, `::1`. */
function hostOf(host: string | undefined): string {
  if (host === undefined) return ''
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'))
  const colon = host.lastIndexOf(':')
  return colon < 0 ? host : host.slice(0, colon)
}

/**
 * Loopback only: a client on this machine, reached directly, naming this machine. The name matters too: a web page
 * elsewhere can make the browser on this machine send its requests here under the page's own host name (DNS
 * rebinding); so can a page of another origin, where CORS allows it. Neither is the operator opening the console.
 */
function checkLoopback(request: FastifyRequest): void {
  const address = request.raw.socket.remoteAddress
  const forwarded = request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined
  if (!isLoopback(address) || forwarded) throw ERR_CONSOLE_LOOPBACK_ONLY(forwarded ? 'a forwarded request' : String(address))
  const host = hostOf(request.headers.host)
  if (host !== 'localhost' && !isLoopback(host)) throw ERR_CONSOLE_LOOPBACK_ONLY(`a request for host '${host.slice(0, 100)}'`)
  const origin = request.headers.origin
  if (origin !== undefined && origin !== `http://${request.headers.host}`) throw ERR_CONSOLE_LOOPBACK_ONLY(`a page of origin '${origin.slice(0, 100)}'`)
}

/** Throws unless the caller may read the console's data (the identity comes from the kernel's auth chain). */
export function checkAdmin(mode: AccessMode, request: FastifyRequest, identity: Identity | null): void {
  if (mode === 'loopback') return checkLoopback(request)
  if (identity === null) throw ERR_CONSOLE_KEY_REQUIRED()
  if (identity.scope !== 'admin' || identity.agents !== undefined) {
    throw ERR_CONSOLE_NOT_ADMIN(identity.scope, identity.agents !== undefined ? ' and an agent list' : '')
  }
}
