// Checks a Messages API request body (schema compiled once) and maps it to the agent loop's input through the
// shared mapping (@robutler/anthropic-mapping). Fields the surface cannot serve are a 400 naming them; fields that
// only tune Anthropic's own service are accepted and have no effect (listed in the README).
import { fromAnthropicRequest } from '@robutler/anthropic-mapping'
import { ERR_INVALID_REQUEST, type AgentInput, type RobutlerError } from '@robutler/kernel'
import { Ajv, type ErrorObject } from 'ajv'

const block = { type: 'object', required: ['type'], properties: { type: { type: 'string' } } }

/** The fields of a create request; count_tokens takes the same without max_tokens and stream. */
const properties = {
  model: { type: 'string' },
  max_tokens: { type: 'integer', minimum: 1 },
  messages: {
    type: 'array',
    minItems: 1,
    items: {
      type: 'object',
      required: ['role', 'content'],
      properties: { role: { enum: ['user', 'assistant'] }, content: { anyOf: [{ type: 'string' }, { type: 'array', items: block }] } },
    },
  },
  system: { anyOf: [{ type: 'string' }, { type: 'array', items: block }] },
  tools: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, type: { type: ['string', 'null'] } } } },
  tool_choice: {
    type: 'object',
    required: ['type'],
    properties: { type: { enum: ['auto', 'any', 'tool', 'none'] }, name: { type: 'string' }, disable_parallel_tool_use: { type: 'boolean' } },
  },
  stop_sequences: { type: 'array', items: { type: 'string', minLength: 1 } },
  temperature: { type: 'number', minimum: 0, maximum: 1 },
  top_p: { type: 'number', minimum: 0, maximum: 1 },
  top_k: { type: 'integer', minimum: 0 },
  metadata: { type: 'object', properties: { user_id: { type: ['string', 'null'], maxLength: 512 } } },
  thinking: {
    type: 'object',
    required: ['type'],
    properties: { type: { enum: ['enabled', 'disabled', 'adaptive', 'between_tools'] }, budget_tokens: { type: 'integer', minimum: 1024 } },
    if: { properties: { type: { const: 'enabled' } } },
    then: { required: ['budget_tokens'] },
  },
  stream: { type: 'boolean' },
  // Tuning of Anthropic's own service (prompt caching, tiers, regions, context editing): accepted, no effect here.
  service_tier: { type: 'string' },
  cache_control: { type: ['object', 'null'] },
  context_management: { type: ['object', 'null'] },
  inference_geo: { type: ['string', 'null'] },
  speed: { type: ['string', 'null'] },
  diagnostics: { type: ['object', 'null'] },
  // Only its effort (which `thinking` already says for this server); `format` (structured output) is refused.
  output_config: { type: 'object', properties: { effort: { type: ['string', 'null'] } }, additionalProperties: false },
} as const

/** Server-side features of Anthropic's that no other model has: refused by name. */
const SERVER_FEATURES: Readonly<Record<string, string>> = {
  mcp_servers: 'MCP servers run by the API (the MCP connector)',
  container: 'code execution containers',
}

function schemaOf(required: string[], omit: string[]): Record<string, unknown> {
  const props: Record<string, unknown> = { ...properties }
  for (const key of omit) delete props[key]
  return { type: 'object', required, properties: props, additionalProperties: false }
}

const ajv = new Ajv({ allErrors: false, strict: false })
const validateCreate = ajv.compile(schemaOf(['max_tokens', 'messages'], []))
const validateCount = ajv.compile(schemaOf(['messages'], ['max_tokens', 'stream']))

function invalid(message: string, param: string | null): RobutlerError {
  const error = ERR_INVALID_REQUEST(message)
  error.param = param
  return error
}

function schemaError(error: ErrorObject): RobutlerError {
  const at = error.instancePath.replace(/^\//, '').replace(/\/(\d+)(?=\/|$)/g, '[$1]').replaceAll('/', '.')
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty
    const param = at ? `${at}.${missing}` : missing
    return invalid(`${param}: Field required`, param)
  }
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty: string }).additionalProperty
    const param = at ? `${at}.${extra}` : extra
    const feature = at === '' ? SERVER_FEATURES[extra] : undefined
    return invalid(feature ? `${param}: ${feature} are not supported by this server` : `${param}: Extra inputs are not permitted`, param)
  }
  return invalid(`${at || 'body'}: ${error.message ?? 'is invalid'}`, at || null)
}

/** What a Messages API request asks: the loop's input, and whether to stream the answer. */
export interface MessagesRequest {
  input: AgentInput
  stream: boolean
}

/**
 * A create (`count: false`) or count_tokens (`count: true`) body as the loop's input; a 400 naming the field for
 * anything else.
 */
export function parseMessagesRequest(body: unknown, count = false): MessagesRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('The request body must be a JSON object', null)
  const validate = count ? validateCount : validateCreate
  if (!validate(body)) throw schemaError(validate.errors![0]!)
  const conversation = fromAnthropicRequest(body as Record<string, unknown>)
  const stream = (body as { stream?: unknown }).stream === true
  return { input: { messages: conversation.messages, tools: conversation.tools, params: conversation.params, stream }, stream }
}
