// Checks an OpenAI chat completions body (schema compiled once) and splits it into what the runtime needs.
import { Ajv } from 'ajv'
import { ERR_INVALID_REQUEST } from './errors.js'
import type { ChatMessage, SamplingParams, ToolDefinition } from './types.js'

export interface ChatRequest {
  messages: ChatMessage[]
  tools: ToolDefinition[] | undefined
  params: SamplingParams
  stream: boolean
  includeUsage: boolean
}

const content = { anyOf: [{ type: 'string' }, { type: 'null' }, { type: 'array', items: { type: 'object', required: ['type'], properties: { type: { type: 'string' } } } }] }

const schema = {
  type: 'object',
  required: ['messages'],
  properties: {
    model: { type: 'string' },
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role'],
        properties: {
          role: { enum: ['system', 'developer', 'user', 'assistant', 'tool'] },
          content,
          name: { type: 'string' },
          tool_call_id: { type: 'string' },
          tool_calls: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'function'],
              properties: {
                id: { type: 'string' },
                type: { const: 'function' },
                function: {
                  type: 'object',
                  required: ['name'],
                  properties: { name: { type: 'string' }, arguments: { type: 'string' } },
                },
              },
            },
          },
        },
        allOf: [{ if: { properties: { role: { const: 'tool' } } }, then: { required: ['tool_call_id'] } }],
      },
    },
    stream: { type: 'boolean' },
    stream_options: { anyOf: [{ type: 'null' }, { type: 'object', properties: { include_usage: { type: 'boolean' } } }] },
    tools: {
      type: 'array',
      items: {
        type: 'object',
        required: ['type', 'function'],
        properties: {
          type: { const: 'function' },
          function: {
            type: 'object',
            required: ['name'],
            properties: {
              name: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
              description: { type: 'string' },
              parameters: { type: 'object' },
            },
          },
        },
      },
    },
    n: { type: 'integer', minimum: 1, maximum: 1 },
    temperature: { type: 'number', minimum: 0, maximum: 2 },
    top_p: { type: 'number', minimum: 0, maximum: 1 },
    max_tokens: { type: 'integer', minimum: 1 },
    max_completion_tokens: { type: 'integer', minimum: 1 },
    stop: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 4 }, { type: 'null' }] },
    presence_penalty: { type: 'number', minimum: -2, maximum: 2 },
    frequency_penalty: { type: 'number', minimum: -2, maximum: 2 },
    seed: { type: 'integer' },
    response_format: { type: 'object', required: ['type'] },
    parallel_tool_calls: { type: 'boolean' },
    user: { type: 'string' },
  },
} as const

const ajv = new Ajv({ allErrors: false, strict: false })
const validate = ajv.compile(schema)

/** Body fields that are the kernel's own, not sampling parameters for the provider. */
const OWN_FIELDS = new Set(['model', 'messages', 'stream', 'stream_options', 'tools', 'n'])

export function parseChatRequest(body: unknown): ChatRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw ERR_INVALID_REQUEST('The request body must be a JSON object with a messages array')
  }
  if (!validate(body)) {
    const error = validate.errors![0]!
    const at = error.instancePath.replace(/^\//, '').replaceAll('/', '.')
    const missing = error.keyword === 'required' ? (error.params as { missingProperty: string }).missingProperty : null
    const param = missing ? (at ? `${at}.${missing}` : missing) : at || null
    const wrapped = ERR_INVALID_REQUEST(
      missing ? `Missing required parameter: '${param}'` : `Invalid parameter '${param ?? 'body'}': it ${error.message}`,
    )
    wrapped.param = param
    throw wrapped
  }
  const input = body as Record<string, any>
  const params: SamplingParams = {}
  for (const key in input) if (!OWN_FIELDS.has(key)) params[key] = input[key]
  return {
    messages: input.messages,
    tools: input.tools,
    params,
    stream: input.stream === true,
    includeUsage: input.stream_options?.include_usage === true,
  }
}
