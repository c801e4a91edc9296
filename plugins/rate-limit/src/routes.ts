// Which routes count: the routes that serve agents (the kernel marks them in `config.robutler.agent`), except the
// public `/{agent}/health`; and when a route's agent is known, so its own counter can apply.
import type { RouteOptions } from 'fastify'
import type { RouteConfig } from '@robutler/kernel'

/**
 * True for `<prefix>/:agent`, `<prefix>/:agent/chat/completions`, `<prefix>/:agent/health` (a name it does not
 * know costs a loader lookup) and `<prefix>/:agent/*` (skill routes); false for every server route (`/health`,
 * `/live`, `/ready`, `/info`, `/agents`, `/metrics`).
 */
export function isAgentRoute(url: string, urlPrefix: string): boolean {
  const base = `${urlPrefix}/:agent`
  return url === base || url.startsWith(`${base}/`)
}

/**
 * The hook a counted route gets: `onRequest` where the agent is in the path (or there is none: the global
 * counter), `preHandler` where the request names it as the `model` of its body (`POST /chat/completions`): the
 * kernel reads it into `request.params.agent` before any other preHandler. Null for routes that do not count.
 */
export function countingHook(route: RouteOptions, urlPrefix: string): 'onRequest' | 'preHandler' | null {
  const agent = (route.config as RouteConfig | undefined)?.robutler?.agent
  if (agent === 'model') return 'preHandler'
  if (agent === 'path' || agent === 'none') return 'onRequest'
  return isAgentRoute(route.url, urlPrefix) ? 'onRequest' : null
}

type Hook = (...args: any[]) => unknown

/** Appends a hook to a route being declared, after any it has. */
export function appendHook(route: RouteOptions, name: 'onRequest' | 'preHandler', hook: Hook): void {
  const current = route[name] as Hook | Hook[] | undefined
  const hooks = Array.isArray(current) ? [...current, hook] : typeof current === 'function' ? [current, hook] : [hook]
  ;(route as unknown as Record<string, Hook[]>)[name] = hooks
}
