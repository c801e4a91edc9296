// Which routes count: the kernel's agent routes under its prefix, except the public `/{agent}/health`.
import type { onRequestHookHandler, RouteOptions } from 'fastify'

/**
 * True for `<prefix>/:agent`, `<prefix>/:agent/chat/completions` and `<prefix>/:agent/*` (skill routes); false for
 * `<prefix>/:agent/health` and every server route (`/health`, `/live`, `/ready`, `/info`, `/agents`, `/metrics`).
 */
export function isAgentRoute(url: string, urlPrefix: string): boolean {
  const base = `${urlPrefix}/:agent`
  return url === base || (url.startsWith(`${base}/`) && url !== `${base}/health`)
}

/** Appends an onRequest hook to a route being declared, after any it has (as @fastify/rate-limit does). */
export function appendOnRequest(route: RouteOptions, hook: onRequestHookHandler): void {
  const current = route.onRequest
  if (Array.isArray(current)) route.onRequest = [...current, hook]
  else if (typeof current === 'function') route.onRequest = [current, hook]
  else route.onRequest = [hook]
}
