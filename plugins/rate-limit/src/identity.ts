// Who a request counts against: its user, else its key, else its client IP.
import type { FastifyRequest } from 'fastify'
import type { Identity, KernelApi } from '@robutler/kernel'

/** `kernel.auth.identify`: the chain as the agent routes run it, once per request; null for anonymous. */
export type Identify = KernelApi['auth']['identify']

/** The counter key of a caller: `user:ID`, `key:ID` or `ip:ADDRESS`. */
export function callerKey(identity: Identity | null, ip: string): string {
  if (identity !== null) {
    if (identity.userId) return `user:${identity.userId}`
    if (identity.keyId) return `key:${identity.keyId}`
  }
  return `ip:${ip}`
}

/**
 * The caller's key. Credentials the chain refuses are keyed (and counted) by IP: a client guessing keys is limited
 * like an anonymous one, and the route still answers it 401.
 */
export async function keyOfRequest(identify: Identify, request: FastifyRequest): Promise<string> {
  let identity: Identity | null = null
  try {
    identity = await identify(request)
  } catch {
    // Refused or broken credentials: the route handler runs the same chain and answers the error itself.
  }
  return callerKey(identity, request.ip)
}
