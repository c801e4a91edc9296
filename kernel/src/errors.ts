// Every error the kernel answers with or raises, in one place (as fastify's lib/errors.js), and the one factory
// that plugins make their own errors with.
import { format } from 'node:util'

/** The OpenAI error `type` of an answer. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'timeout_error'
  | 'server_error'
  | 'api_error'
  | 'configuration_error'

/** An error with an `RBT_ERR_*` code, an HTTP status and an OpenAI error type. */
export class RobutlerError extends Error {
  readonly code: string
  readonly statusCode: number
  readonly type: ErrorType
  param: string | null = null
  /** Seconds, for 429 and 503 answers: sent as `Retry-After`. */
  retryAfter?: number

  constructor(code: string, message: string, statusCode: number, type: ErrorType, options?: { cause?: unknown; retryAfter?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'RobutlerError'
    this.code = code
    this.statusCode = statusCode
    this.type = type
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter
  }
}

export interface ErrorOptions {
  /**
   * `Retry-After` seconds of every error of this code, or how to find them among the message's values (an error
   * whose wait differs each time, as a rate limit's).
   */
  retryAfter?: number | ((...values: any[]) => number)
  /** The request parameter every error of this code is about (OpenAI's `param`), such as `model`, or how to find it among the message's values. */
  param?: string | ((...values: any[]) => string)
}

export interface ErrorFactory {
  /** The message's `%s`/`%d` values; a last value that is an Error becomes the cause. */
  (...values: unknown[]): RobutlerError
  readonly code: string
  readonly statusCode: number
}

/**
 * Makes the factory of one error code. `message` is a `util.format` template whose values the factory takes.
 * @example
 * export const ERR_RATE_LIMITED = createError('RBT_ERR_RATE_LIMITED', 'Rate limit exceeded: %d requests per %s; retry in %d s',
 *   429, 'rate_limit_error', { retryAfter: (_max, _window, seconds) => seconds })
 * throw ERR_RATE_LIMITED(60, '1 minute', 42)   // 429 with Retry-After: 42
 */
export function createError(code: string, message: string, statusCode: number, type: ErrorType, options: ErrorOptions = {}): ErrorFactory {
  const { retryAfter, param } = options
  const factory = (...values: unknown[]) => {
    const last = values[values.length - 1]
    const cause = last instanceof Error ? last : undefined
    const args = cause ? values.slice(0, -1) : values
    const seconds = typeof retryAfter === 'function' ? retryAfter(...args) : retryAfter
    const error = new RobutlerError(code, format(message, ...args), statusCode, type, { cause, retryAfter: seconds })
    if (param !== undefined) error.param = typeof param === 'function' ? param(...args) : param
    return error
  }
  return Object.assign(factory, { code, statusCode })
}

const catalogue = new Map<string, { message: string; statusCode: number }>()

/** The kernel's own codes: made with createError and listed in the catalogue that docs checks read. */
function kernelError(code: string, message: string, statusCode: number, type: ErrorType, options?: ErrorOptions): ErrorFactory {
  catalogue.set(code, { message, statusCode })
  return createError(code, message, statusCode, type, options)
}

// Requests
export const ERR_INVALID_REQUEST = kernelError('RBT_ERR_INVALID_REQUEST', '%s', 400, 'invalid_request_error')
export const ERR_INVALID_JSON = kernelError('RBT_ERR_INVALID_JSON', 'The request body is not valid JSON: %s', 400, 'invalid_request_error')
export const ERR_UNSUPPORTED_MEDIA_TYPE = kernelError(
  'RBT_ERR_UNSUPPORTED_MEDIA_TYPE',
  "Content-Type '%s' is not supported; send application/json",
  415,
  'invalid_request_error',
)
export const ERR_BODY_TOO_LARGE = kernelError(
  'RBT_ERR_BODY_TOO_LARGE',
  'The request body is larger than the limit of %s bytes',
  413,
  'invalid_request_error',
)
export const ERR_ROUTE_NOT_FOUND = kernelError('RBT_ERR_ROUTE_NOT_FOUND', 'No route %s %s', 404, 'not_found_error')
export const ERR_AGENT_NOT_FOUND = kernelError('RBT_ERR_AGENT_NOT_FOUND', "Agent '%s' not found", 404, 'not_found_error')
/** An agent named as a request's `model` (OpenAI's model_not_found). */
export const ERR_MODEL_NOT_FOUND = kernelError(
  'RBT_ERR_MODEL_NOT_FOUND',
  "The model '%s' does not exist or you do not have access to it",
  404,
  'invalid_request_error',
  { param: 'model' },
)
/** A request field the agent's params policy does not let clients set (`param` names it). */
export const ERR_PARAM_NOT_ALLOWED = kernelError(
  'RBT_ERR_PARAM_NOT_ALLOWED',
  "Parameter '%s' is not allowed on agent '%s'",
  400,
  'invalid_request_error',
  { param: (field: string) => field },
)
/** A token count above the agent's `params.maxTokens` (`param` names the field). */
export const ERR_PARAM_ABOVE_LIMIT = kernelError(
  'RBT_ERR_PARAM_ABOVE_LIMIT',
  "Parameter '%s' may be at most %d on agent '%s'",
  400,
  'invalid_request_error',
  { param: (field: string) => field },
)
export const ERR_REQUEST_TIMEOUT = kernelError(
  'RBT_ERR_REQUEST_TIMEOUT',
  'The request took longer than the limit of %s seconds',
  408,
  'timeout_error',
)
/** Node gave up on a request that did not arrive in time (answered below the routes, before a request exists). */
export const ERR_RECEIVE_TIMEOUT = kernelError(
  'RBT_ERR_RECEIVE_TIMEOUT',
  'The request did not arrive in time: its headers must arrive within %s s and the whole request within %s s',
  408,
  'timeout_error',
)
export const ERR_HEADERS_TOO_LARGE = kernelError('RBT_ERR_HEADERS_TOO_LARGE', 'The request headers are larger than the server accepts', 431, 'invalid_request_error')

// Identity and scope
export const ERR_UNAUTHENTICATED = kernelError('RBT_ERR_UNAUTHENTICATED', '%s', 401, 'authentication_error')
export const ERR_FORBIDDEN = kernelError('RBT_ERR_FORBIDDEN', '%s', 403, 'permission_error')

// Serving
export const ERR_DRAINING = kernelError(
  'RBT_ERR_DRAINING',
  'The server is shutting down and takes no new requests',
  503,
  'server_error',
  { retryAfter: 5 },
)
export const ERR_AGENT_UNAVAILABLE = kernelError(
  'RBT_ERR_AGENT_UNAVAILABLE',
  "Agent '%s' is unavailable right now; retry shortly (request %s)",
  503,
  'server_error',
  // Not cached: the next request tries the loader again.
  { retryAfter: 1 },
)
export const ERR_AGENT_INVALID = kernelError('RBT_ERR_AGENT_INVALID', "Agent '%s' is misconfigured: %s", 500, 'configuration_error')
export const ERR_PROVIDER_FAILED = kernelError('RBT_ERR_PROVIDER_FAILED', 'The model provider failed: %s', 502, 'api_error')
export const ERR_PROVIDER_RATE_LIMITED = kernelError(
  'RBT_ERR_PROVIDER_RATE_LIMITED',
  'The model provider is rate limiting %s; retry in %d s',
  429,
  'rate_limit_error',
  { retryAfter: (_model: string, seconds: number) => seconds },
)
export const ERR_PROVIDER_TIMEOUT = kernelError('RBT_ERR_PROVIDER_TIMEOUT', 'The model provider did not answer in time', 504, 'timeout_error')
export const ERR_POOL_SATURATED = kernelError(
  'RBT_ERR_POOL_SATURATED',
  'The worker pool is saturated (%s tasks waiting); retry shortly',
  503,
  'server_error',
  { retryAfter: 1 },
)
export const ERR_INTERNAL = kernelError('RBT_ERR_INTERNAL', 'Internal server error (request %s)', 500, 'server_error')

// Tool calls: these become error texts for the model, never HTTP answers
export const ERR_TOOL_NOT_FOUND = kernelError('RBT_ERR_TOOL_NOT_FOUND', "No tool named '%s' is available", 400, 'invalid_request_error')
export const ERR_TOOL_ARGUMENTS_INVALID = kernelError(
  'RBT_ERR_TOOL_ARGUMENTS_INVALID',
  "Invalid arguments for tool '%s': %s",
  400,
  'invalid_request_error',
)
export const ERR_TOOL_FORBIDDEN = kernelError(
  'RBT_ERR_TOOL_FORBIDDEN',
  "Tool '%s' needs scope '%s'; the caller has '%s'",
  403,
  'permission_error',
)
export const ERR_TOOL_FAILED = kernelError('RBT_ERR_TOOL_FAILED', "Tool '%s' failed: %s", 500, 'server_error')
export const ERR_TOOL_TIMEOUT = kernelError('RBT_ERR_TOOL_TIMEOUT', "Tool '%s' took longer than %s ms", 504, 'timeout_error')

// Startup: config, packages, plugins
export const ERR_CONFIG_NOT_FOUND = kernelError('RBT_ERR_CONFIG_NOT_FOUND', 'Config file not found: %s', 500, 'configuration_error')
export const ERR_CONFIG_INVALID = kernelError('RBT_ERR_CONFIG_INVALID', 'Invalid config%s: %s', 500, 'configuration_error')
export const ERR_CONFIG_ENV_MISSING = kernelError(
  'RBT_ERR_CONFIG_ENV_MISSING',
  'The config uses ${%s} at %s but the environment variable %s is not set (use ${%s:-default} for a default)',
  500,
  'configuration_error',
)
export const ERR_MODEL_PROVIDER_UNKNOWN = kernelError(
  'RBT_ERR_MODEL_PROVIDER_UNKNOWN',
  "model '%s' names provider '%s', which no enabled plugin provides",
  500,
  'configuration_error',
)
export const ERR_LISTEN_FAILED = kernelError('RBT_ERR_LISTEN_FAILED', 'Cannot listen on %s: %s', 500, 'configuration_error')
export const ERR_STARTUP = kernelError('RBT_ERR_STARTUP', 'Robutler cannot start:\n%s', 500, 'configuration_error')
export const ERR_PLUGIN_BOOT_FAILED = kernelError('RBT_ERR_PLUGIN_BOOT_FAILED', "Plugin '%s' failed to start: %s", 500, 'server_error')
export const ERR_PLUGIN_BOOT_TIMEOUT = kernelError(
  'RBT_ERR_PLUGIN_BOOT_TIMEOUT',
  "Plugin '%s' did not finish starting within %s ms",
  500,
  'server_error',
)
export const ERR_SKILL_SETUP_FAILED = kernelError(
  'RBT_ERR_SKILL_SETUP_FAILED',
  "Skill '%s' failed to set up for agent '%s': %s",
  500,
  'configuration_error',
)
export const ERR_SKILL_PERMISSION_NOT_GRANTED = kernelError(
  'RBT_ERR_SKILL_PERMISSION_NOT_GRANTED',
  "Skill '%s' %s asks for permissions its config entry does not grant: %s",
  500,
  'configuration_error',
)
export const ERR_SURFACE_INVALID = kernelError('RBT_ERR_SURFACE_INVALID', "The surface that '%s' adds is invalid: %s", 500, 'configuration_error')
export const ERR_PROVIDER_DUPLICATE = kernelError(
  'RBT_ERR_PROVIDER_DUPLICATE',
  "Provider prefix '%s' is registered twice",
  500,
  'configuration_error',
)

/** Every kernel error code with its HTTP status, for docs checks. */
export function errorCatalogue(): ReadonlyMap<string, { message: string; statusCode: number }> {
  return catalogue
}

/** By shape as well as class: a plugin may load another copy of the kernel module (a bundler, a test runner). */
export function isRobutlerError(error: unknown): error is RobutlerError {
  if (error instanceof RobutlerError) return true
  const e = error as { code?: unknown; statusCode?: unknown; type?: unknown } | null
  return typeof e?.code === 'string' && e.code.startsWith('RBT_ERR_') && typeof e.statusCode === 'number' && typeof e.type === 'string'
}

/** The OpenAI error body for an error: never a stack, never a secret. */
export function errorBody(error: RobutlerError): { error: { message: string; type: string; code: string; param: string | null } } {
  return { error: { message: error.message, type: error.type, code: error.code, param: error.param } }
}
