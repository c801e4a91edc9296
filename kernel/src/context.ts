// The per-request context, reachable from anywhere below the request through AsyncLocalStorage.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { RequestContext } from './types.js'

export const contextStorage = new AsyncLocalStorage<RequestContext>()

/**
 * The context of the request being served, or undefined outside a request — and inside one unless an enabled
 * package declares `asyncContext: true` (or `server.asyncContext` is true): AsyncLocalStorage costs every request
 * throughput on Node 20, so the kernel pays for it only when something reads it. Hooks, tools and routes receive
 * the context as an argument and need none of this.
 * @example
 * const ctx = getContext()
 * ctx?.log.info({ agent: ctx.agent }, 'looking up the weather')
 */
export function getContext(): RequestContext | undefined {
  return contextStorage.getStore()
}
