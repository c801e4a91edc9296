// The plugin's config section, and the settings resolved from it once, at register.

export interface PrometheusConfig {
  /** Where the metrics are served, outside the urlPrefix (default `/metrics`). */
  path?: string
  /** Export prom-client's process and Node.js metrics too (default true). */
  defaultMetrics?: boolean
  /** Distinct agent label values (and, each on its own, model and tool values) before new ones read `__other__` (default 100). */
  maxAgentLabels?: number
}

export interface Settings {
  path: string
  defaultMetrics: boolean
  maxAgentLabels: number
}

const DEFAULT_PATH = '/metrics'
const DEFAULT_MAX_AGENT_LABELS = 100

/** The kernel has applied the schema's defaults already; these hold for a caller that registers the plugin by hand. */
export function resolveSettings(config: PrometheusConfig): Settings {
  const path = config.path ?? DEFAULT_PATH
  if (!path.startsWith('/')) throw new TypeError(`plugin-prometheus: path must start with '/', got '${path}'`)
  const max = config.maxAgentLabels ?? DEFAULT_MAX_AGENT_LABELS
  if (!Number.isInteger(max) || max < 1) throw new TypeError(`plugin-prometheus: maxAgentLabels must be an integer ≥ 1, got ${String(max)}`)
  return { path, defaultMetrics: config.defaultMetrics ?? true, maxAgentLabels: max }
}
