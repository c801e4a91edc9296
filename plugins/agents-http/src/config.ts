// The plugin's config section, with the schema's defaults filled in.
export interface AgentsHttpConfig {
  /** The portal's agents URL: an agent is `GET {baseURL}/{name}`. */
  baseURL: string
  /** Headers on every request (Authorization for the portal). Never logged. */
  headers?: Record<string, string>
  /** Seconds a fetched agent is fresh when the portal sends no Cache-Control max-age (default 60). */
  ttl?: number
  /** Milliseconds to wait for the portal (default 5000). */
  timeout?: number
  /** Where this loader runs among the agent loaders, lower first (default 100). */
  priority?: number
}

export interface AgentsHttpSettings {
  baseURL: URL
  headers: Record<string, string>
  ttlMs: number
  timeoutMs: number
  priority: number
}

export const DEFAULT_TTL_SECONDS = 60
export const DEFAULT_TIMEOUT_MS = 5_000
export const DEFAULT_PRIORITY = 100

export function settingsOf(config: AgentsHttpConfig): AgentsHttpSettings {
  if (typeof config?.baseURL !== 'string') throw new TypeError('plugin-agents-http: baseURL is required')
  const baseURL = new URL(config.baseURL)
  if (baseURL.protocol !== 'http:' && baseURL.protocol !== 'https:') {
    throw new TypeError(`plugin-agents-http: baseURL must be an http(s) URL, got ${baseURL.protocol}`)
  }
  return {
    baseURL,
    headers: { ...config.headers },
    ttlMs: (config.ttl ?? DEFAULT_TTL_SECONDS) * 1000,
    timeoutMs: config.timeout ?? DEFAULT_TIMEOUT_MS,
    priority: config.priority ?? DEFAULT_PRIORITY,
  }
}
