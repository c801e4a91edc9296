// Agent configs fetched from the portal and kept as HTTP says: reused while fresh, revalidated with the ETag
// (If-None-Match) or Last-Modified once stale, dropped on 404, never kept on no-store.
import type { AgentConfig, KernelApi } from '@robutler/kernel'
import type { AgentsHttpSettings } from './config.js'
import { portalAgentInvalid, portalFailed } from './errors.js'
import { freshnessOf } from './freshness.js'

interface Entry {
  config: AgentConfig
  etag: string | null
  lastModified: string | null
  /** Epoch ms until which the config is used without asking the portal. */
  freshUntil: number
}

/** As the kernel's own agent cache: memory stays bounded however many names are asked for. */
const MAX_ENTRIES = 10_000
/** An agent config is a few kilobytes; a body past this is not one. */
const MAX_BODY_CHARS = 1_048_576

export class PortalAgents {
  readonly #settings: AgentsHttpSettings
  readonly #log: KernelApi['log']
  readonly #cache = new Map<string, Entry>()
  /** The base URL as it may appear in errors and logs: no credentials, no query string. */
  readonly #shownBase: string

  constructor(settings: AgentsHttpSettings, log: KernelApi['log']) {
    this.#settings = settings
    this.#log = log
    const base = settings.baseURL
    this.#shownBase = `${base.origin}${base.pathname.replace(/\/+$/, '')}`
  }

  /** The config of agent `name` from the portal, or null when the portal has no such agent. */
  async load(name: string, signal: AbortSignal, propagation?: Record<string, string>): Promise<AgentConfig | null> {
    const entry = this.#cache.get(name)
    if (entry && entry.freshUntil > Date.now()) {
      this.#cache.delete(name)
      this.#cache.set(name, entry)
      return entry.config
    }
    const shown = `${this.#shownBase}/${encodeURIComponent(name)}`
    const response = await this.#fetch(name, entry, signal, shown, propagation)
    const status = response.status
    this.#log.debug({ agent: name, status, revalidated: entry !== undefined }, 'portal answered')

    if (status === 304 && entry) {
      await response.body?.cancel()
      const freshness = freshnessOf(response.headers, this.#settings.ttlMs)
      if (!freshness.store) {
        this.#cache.delete(name)
        return entry.config
      }
      entry.etag = response.headers.get('etag') ?? entry.etag
      entry.lastModified = response.headers.get('last-modified') ?? entry.lastModified
      entry.freshUntil = Date.now() + freshness.freshMs
      return entry.config
    }
    if (status === 404 || status === 410) {
      await response.body?.cancel()
      this.#cache.delete(name)
      return null
    }
    if (status !== 200) {
      await response.body?.cancel()
      throw portalFailed(shown, `answered ${status}${response.statusText ? ` ${response.statusText}` : ''}`)
    }

    const config = await this.#configOf(name, response, shown)
    const freshness = freshnessOf(response.headers, this.#settings.ttlMs)
    this.#cache.delete(name)
    if (freshness.store) {
      if (this.#cache.size >= MAX_ENTRIES) this.#cache.delete(this.#cache.keys().next().value!)
      this.#cache.set(name, {
        config,
        etag: response.headers.get('etag'),
        lastModified: response.headers.get('last-modified'),
        freshUntil: Date.now() + freshness.freshMs,
      })
    }
    return config
  }

  async #fetch(name: string, entry: Entry | undefined, signal: AbortSignal, shown: string, propagation: Record<string, string> | undefined): Promise<Response> {
    const url = new URL(this.#settings.baseURL)
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/${encodeURIComponent(name)}`
    const headers = new Headers(this.#settings.headers)
    if (!headers.has('accept')) headers.set('accept', 'application/json')
    // The trace context of the request that asked (traceparent), beside the operator's own headers.
    if (propagation !== undefined) for (const [key, value] of Object.entries(propagation)) if (!headers.has(key)) headers.set(key, value)
    if (entry?.etag) headers.set('if-none-match', entry.etag)
    else if (entry?.lastModified) headers.set('if-modified-since', entry.lastModified)
    const timeout = AbortSignal.timeout(this.#settings.timeoutMs)
    try {
      // Redirects are refused: following one would send the portal's token to wherever it points.
      return await fetch(url, { headers, signal: AbortSignal.any([signal, timeout]), redirect: 'error' })
    } catch (error: any) {
      if (timeout.aborted) throw portalFailed(shown, `did not answer within ${this.#settings.timeoutMs} ms`)
      if (signal.aborted) throw portalFailed(shown, 'was abandoned: the agent load timed out')
      const reason = error?.cause?.code ?? error?.cause?.message ?? error?.message ?? String(error)
      const hint = reason === 'unexpected redirect' ? ' (redirects are not followed: set baseURL to the final address)' : ''
      throw portalFailed(shown, `failed: ${reason}${hint}`)
    }
  }

  async #configOf(name: string, response: Response, shown: string): Promise<AgentConfig> {
    const text = await response.text()
    if (text.length > MAX_BODY_CHARS) throw portalFailed(shown, `answered a body of ${text.length} characters, past the limit of ${MAX_BODY_CHARS}`)
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (error: any) {
      // A proxy's error page or a truncated answer: the portal is not serving, so this is a 503, retried.
      throw portalFailed(shown, `answered 200 with a body that is not JSON (${error?.message ?? error})`)
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw portalAgentInvalid(name, shown, 'answered JSON that is not an agent config object')
    }
    const inside = (value as { name?: unknown }).name
    if (inside !== undefined && inside !== name) {
      throw portalAgentInvalid(name, shown, `answered the config of agent ${JSON.stringify(inside)}`)
    }
    return { ...(value as AgentConfig), name }
  }
}
