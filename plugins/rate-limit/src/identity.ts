// Who a request counts against: its user, else its key, else its client IP.
import type { FastifyRequest } from 'fastify'
import type { Identity } from '@robutler/kernel'

/**
 * `kernel.auth.identifyNow` (or `identify` on a kernel without it): the chain as the agent routes run it, once per
 * request; null for anonymous; a refusal thrown or rejected.
 */
export type IdentifyNow = (request: FastifyRequest) => Identity | null | Promise<Identity | null>

/** The counter key of a caller: `user:ID`, `key:ID` or `ip:ADDRESS`. */
export function callerKey(identity: Identity | null, ip: string): string {
  if (identity !== null) {
    if (identity.userId) return `user:${identity.userId}`
    if (identity.keyId) return `key:${identity.keyId}`
  }
  return `ip:${ip}`
}
