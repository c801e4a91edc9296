// Label values are bounded by construction: whatever a client sends (paths, agent names, methods) or a model
// invents (tool names), each label can only take a fixed set of values plus a capped number of learned ones.

/** The route of a request that matched no route (the 404 handler). */
export const UNMATCHED_ROUTE = '__unmatched__'
/** The agent of an agent route whose agent was never found. */
export const UNKNOWN = '__unknown__'
/** A real agent, model or tool that arrived after its label's cap was reached. */
export const OTHER = '__other__'
/** The agent label of routes that serve no agent (`/health`, `/metrics`, unmatched paths). */
export const NO_AGENT = ''

/**
 * A label whose values are learned as they are seen: the first `max` distinct values keep their name, later
 * ones read `__other__`. A value once admitted stays (a series must not change its label mid-life).
 */
export class BoundedLabel {
  readonly #admitted = new Set<string>()
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  has(value: string): boolean {
    return this.#admitted.has(value)
  }

  /** `value` itself when admitted (now or before), `__other__` once the cap is full. */
  admit(value: string): string {
    if (this.#admitted.has(value)) return value
    if (this.#admitted.size >= this.#max) return OTHER
    this.#admitted.add(value)
    return value
  }

  get size(): number {
    return this.#admitted.size
  }
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/** The HTTP method, or `OTHER` for the exotic ones Node's parser also accepts (PROPFIND, SEARCH, …). */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'OTHER'
}

/**
 * Route templates as labels: the kernel's templates without the urlPrefix (`/:agent/chat/completions`), so
 * dashboards and alerts read the same under any prefix; routes outside the prefix (`/metrics`) as they are;
 * anything that is not a template (the kernel reports `unknown` for the 404 handler) is `__unmatched__`.
 * Templates are the server's registered routes, a fixed set: the cache cannot grow past it.
 */
export class RouteLabels {
  readonly #prefix: string
  readonly #cache = new Map<string, string>()

  constructor(urlPrefix: string) {
    this.#prefix = urlPrefix
  }

  of(template: string): string {
    let label = this.#cache.get(template)
    if (label === undefined) {
      label = this.#compute(template)
      this.#cache.set(template, label)
    }
    return label
  }

  #compute(template: string): string {
    if (!template.startsWith('/') && template !== '*') return UNMATCHED_ROUTE
    const prefix = this.#prefix
    if (prefix === '' || !template.startsWith(prefix)) return template
    const rest = template.slice(prefix.length)
    if (rest === '') return '/'
    return rest.startsWith('/') ? rest : template
  }
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  408: 'timeout',
  413: 'too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  500: 'internal',
  502: 'provider_failed',
  503: 'unavailable',
  504: 'provider_timeout',
}

/** The `type` of an error response (the kernel's status codes, by what they mean), `4xx`/`5xx` for others. */
export function errorType(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? '5xx' : '4xx')
}

const LLM_FAILURES = new Set(['rate_limit', 'server', 'connection', 'timeout', 'client', 'aborted'])

/**
 * `ok`, the kernel's provider failure kind (`rate_limit`, `server`, `connection`, `timeout`, `client`), or
 * `aborted` for a call cut short because its request ended first (the client left, a drain ran out of time).
 */
export function llmStatus(error: string | null): string {
  if (error === null) return 'ok'
  return LLM_FAILURES.has(error) ? error : 'error'
}
