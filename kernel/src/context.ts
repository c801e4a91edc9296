// The per-request context, reachable from anywhere below the request through AsyncLocalStorage.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { RequestContext } from './types.js'

export const contextStorage = new AsyncLocalStorage<RequestContext>()

/**
 * The context of the request being served, or undefined outside a request.
 * @example
 * const ctx = getContext()
 * ctx?.log.info({ agent: ctx.agent }, 'looking up the weather')
 */
export function getContext(): RequestContext | undefined {
  return contextStorage.getStore()
}
