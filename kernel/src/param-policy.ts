// Which request fields reach the provider, on the operator's key: per agent (its `params`) over the server's
// default (`server.params`). The policy is built once, when the agent is built; every surface's run passes the
// client's fields through it (Session.run), so Chat Completions, the Responses API and Messages get the same rule.
import { ERR_PARAM_ABOVE_LIMIT, ERR_PARAM_NOT_ALLOWED } from './errors.js'
import type { SamplingParams } from './types.js'

/**
 * The operator's rule for the fields a client's request may pass to the provider (Chat Completions names:
 * `temperature`, `max_tokens`, `service_tier`, …).
 * @example
 * // an agent's `params`: the default fields plus reasoning effort, never stored at the provider, at most 4096 tokens
 * { "allow": [...DEFAULT_ALLOWED_PARAMS, "reasoning_effort"], "force": { "store": false }, "maxTokens": 4096 }
 */
export interface ParamPolicyConfig {
  /** The fields a client may set, the whole list (default: DEFAULT_ALLOWED_PARAMS, the ordinary sampling fields). */
  allow?: string[]
  /** Values sent when the client sets none. */
  defaults?: Record<string, unknown>
  /** Values always sent, whatever the client sent. */
  force?: Record<string, unknown>
  /**
   * The largest `max_tokens` / `max_completion_tokens` a call may ask for; sent as `max_completion_tokens` when
   * neither the client nor `defaults` set one, so every call is bounded.
   */
  maxTokens?: number
  /** A field the client may not set: `error` (a 400 naming it, the default) or `drop` (left out; a value over maxTokens is lowered to it). */
  refused?: 'error' | 'drop'
}

/**
 * What reaches the provider by default: the ordinary sampling and output fields. Nothing that costs more
 * (`service_tier`, `reasoning_effort`, `n`, audio, predicted outputs, web search) or stores data at the provider
 * (`store`, `metadata`).
 */
export const DEFAULT_ALLOWED_PARAMS: readonly string[] = Object.freeze([
  'temperature',
  'top_p',
  'top_k',
  'max_tokens',
  'max_completion_tokens',
  'stop',
  'presence_penalty',
  'frequency_penalty',
  'seed',
  'response_format',
  'tool_choice',
  'parallel_tool_calls',
  'user',
])

/** Fields of the request itself (the conversation, streaming), never the provider's sampling fields. */
const REQUEST_FIELDS = new Set(['model', 'messages', 'stream', 'stream_options', 'tools', 'n'])
const TOKEN_FIELDS = ['max_tokens', 'max_completion_tokens'] as const
const FIELD_NAME = '^[a-z][a-z0-9_]{0,63}$'

const fieldList = { type: 'array', items: { type: 'string', pattern: FIELD_NAME }, uniqueItems: true }
const fieldValues = { type: 'object', propertyNames: { pattern: FIELD_NAME } }

/** JSON Schema of `server.params` and of an agent's `params`. */
export const paramPolicySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    allow: fieldList,
    defaults: fieldValues,
    force: fieldValues,
    maxTokens: { type: 'integer', minimum: 1 },
    refused: { enum: ['error', 'drop'] },
  },
}

/** What is wrong with a policy beyond its shape (the schema checks that), one text each; empty when nothing. */
export function paramPolicyProblems(config: ParamPolicyConfig, base: ParamPolicyConfig = {}): string[] {
  const problems: string[] = []
  for (const part of ['allow', 'defaults', 'force'] as const) {
    const value = config[part]
    const names = Array.isArray(value) ? value : Object.keys(value ?? {})
    for (const name of names) if (REQUEST_FIELDS.has(name)) problems.push(`params.${part} names '${name}', a field of the request itself, not a provider parameter`)
  }
  const cap = config.maxTokens ?? base.maxTokens
  if (cap !== undefined) {
    for (const part of ['defaults', 'force'] as const) {
      for (const field of TOKEN_FIELDS) {
        const value = config[part]?.[field]
        if (typeof value === 'number' && value > cap) problems.push(`params.${part}.${field} is ${value}, above maxTokens ${cap}`)
      }
    }
  }
  return problems
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const item of Object.values(value)) deepFreeze(item)
  }
  return value
}

/** One agent's rule, built once: `apply` is the only part that runs per request. */
export class ParamPolicy {
  readonly #agent: string
  readonly #allowed: ReadonlySet<string>
  readonly #defaults: ReadonlyArray<readonly [string, unknown]>
  readonly #force: ReadonlyArray<readonly [string, unknown]>
  readonly #forced: ReadonlySet<string>
  readonly #maxTokens: number | null
  readonly #drop: boolean
  /** Nothing to add: a request that sets only allowed fields under the cap passes as it is, no copy. */
  readonly #addsNothing: boolean

  /** `agent` overrides `server` key by key (`allow` replaces the list; `defaults` and `force` merge, the agent's winning). */
  constructor(agentName: string, server: ParamPolicyConfig = {}, agent: ParamPolicyConfig = {}) {
    this.#agent = agentName
    this.#allowed = new Set(agent.allow ?? server.allow ?? DEFAULT_ALLOWED_PARAMS)
    this.#defaults = Object.entries(deepFreeze({ ...server.defaults, ...agent.defaults }))
    const force = deepFreeze({ ...server.force, ...agent.force })
    this.#force = Object.entries(force)
    this.#forced = new Set(Object.keys(force))
    this.#maxTokens = agent.maxTokens ?? server.maxTokens ?? null
    this.#drop = (agent.refused ?? server.refused ?? 'error') === 'drop'
    this.#addsNothing = this.#defaults.length === 0 && this.#force.length === 0 && this.#maxTokens === null
  }

  /**
   * The fields to send for a client's `params`: refused ones are a 400 naming the field (or left out when the
   * policy drops them); then the cap, defaults and forced values. Answers `params` itself when nothing changes.
   * A field the client set to null counts as not set.
   */
  apply(params: SamplingParams): SamplingParams {
    let out: SamplingParams | null = null
    for (const key in params) {
      if (this.#forced.has(key)) continue
      const value = params[key]
      if (this.#allowed.has(key) && value !== null) continue
      if (value !== null && !this.#drop) throw ERR_PARAM_NOT_ALLOWED(key, this.#agent)
      out ??= { ...params }
      delete out[key]
    }
    if (this.#addsNothing) return out ?? params
    out ??= { ...params }
    const cap = this.#maxTokens
    if (cap !== null) {
      for (const field of TOKEN_FIELDS) {
        const value = out[field]
        if (typeof value !== 'number' || value <= cap) continue
        if (!this.#drop) throw ERR_PARAM_ABOVE_LIMIT(field, cap, this.#agent)
        out[field] = cap
      }
    }
    for (const [key, value] of this.#defaults) if (out[key] === undefined) out[key] = value
    for (const [key, value] of this.#force) out[key] = value
    if (cap !== null && out.max_tokens === undefined && out.max_completion_tokens === undefined) out.max_completion_tokens = cap
    return out
  }
}
