// Checks a `POST /responses` body field by field and answers what the surface runs: the loop's params and client
// tools, the input items, and the options that are the surface's own (store, background, stream, chaining).
// Fields the surface does not serve are a 400 naming them; fields that only tune OpenAI's own service (prompt
// caching, service tiers) are accepted and have no effect (listed in the README).
import type { SamplingParams, ToolDefinition } from '@robutler/kernel'
import { invalid, unsupported } from './errors.js'
import { flatName, inputItems, type Item } from './items.js'

export interface CreateRequest {
  input: Item[]
  instructions: string | null
  tools: ToolDefinition[] | undefined
  /** The tools as the response object echoes them. */
  toolsEcho: unknown[]
  /** Namespaces of the client's tools (their functions reach the model as `NAMESPACE__NAME`). */
  namespaces: ReadonlySet<string>
  params: SamplingParams
  store: boolean
  background: boolean
  stream: boolean
  previousResponseId: string | null
  conversation: string | null
  metadata: Record<string, string> | null
  /** The fields the response object echoes back. */
  echo: {
    tool_choice: unknown
    parallel_tool_calls: boolean
    temperature: number | null
    top_p: number | null
    max_output_tokens: number | null
    text: Record<string, unknown>
    reasoning: Record<string, unknown> | null
    truncation: string
    user?: string
    safety_identifier?: string
  }
}

/** Tuning of OpenAI's own service: accepted, no effect here. */
const IGNORED = new Set(['service_tier', 'prompt_cache_key', 'prompt_cache_retention', 'prompt_cache_options', 'stream_options', 'client_metadata'])
/** Fields of the API this server cannot serve, and why. */
const REFUSED: Readonly<Record<string, string>> = {
  prompt: 'Stored prompt templates (prompt)',
  context_management: 'Server-side context management (context_management)',
  moderation: 'Moderation (moderation)',
  top_logprobs: 'Log probabilities (top_logprobs)',
  max_tool_calls: 'A cap on built-in tool calls (max_tool_calls)',
}
const KNOWN = new Set([
  'model', 'input', 'instructions', 'tools', 'tool_choice', 'parallel_tool_calls', 'temperature', 'top_p', 'max_output_tokens', 'text',
  'reasoning', 'metadata', 'user', 'safety_identifier', 'store', 'previous_response_id', 'conversation', 'background', 'stream', 'include', 'truncation',
])
/** `include` values: accepted (nothing here produces them, so they add nothing). */
const INCLUDABLE = new Set(['reasoning.encrypted_content', 'message.input_image.image_url', 'message.output_text.logprobs'])

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function optional<T>(body: Record<string, unknown>, key: string, type: 'string' | 'number' | 'boolean' | 'integer'): T | undefined {
  const value = body[key]
  if (value === undefined || value === null) return undefined
  const ok = type === 'integer' ? Number.isInteger(value) : typeof value === type
  if (!ok) throw invalid(`Invalid type for '${key}': expected ${type === 'integer' ? 'an integer' : `a ${type}`}.`, key)
  return value as T
}

function range(key: string, value: number | undefined, min: number, max: number): void {
  if (value !== undefined && (value < min || value > max)) throw invalid(`Invalid '${key}': expected a value between ${min} and ${max}, got ${value}.`, key)
}

function functionTool(tool: Record<string, unknown>, at: string, namespace: string | null): ToolDefinition {
  if (typeof tool.name !== 'string' || tool.name === '') throw invalid(`Missing required parameter: '${at}.name'.`, `${at}.name`)
  const fn: ToolDefinition['function'] = { name: namespace === null ? tool.name : flatName(namespace, tool.name) }
  if (typeof tool.description === 'string') fn.description = tool.description
  if (isObject(tool.parameters)) fn.parameters = tool.parameters
  if (typeof tool.strict === 'boolean') fn.strict = tool.strict
  return { type: 'function', function: fn }
}

/**
 * The client's tools for the loop: `function` tools, and the function tools of a `namespace` (named
 * `NAMESPACE__NAME` for the model; calls go back to the client split again). Any other type is a 400 naming it.
 */
function tools(value: unknown): { tools: ToolDefinition[] | undefined; echo: unknown[]; namespaces: Set<string> } {
  const namespaces = new Set<string>()
  if (value === undefined || value === null) return { tools: undefined, echo: [], namespaces }
  if (!Array.isArray(value)) throw invalid("Invalid type for 'tools': expected an array.", 'tools')
  const out: ToolDefinition[] = []
  value.forEach((tool, i) => {
    const at = `tools[${i}]`
    if (!isObject(tool) || typeof tool.type !== 'string') throw invalid(`Missing required parameter: '${at}.type'.`, `${at}.type`)
    if (tool.type === 'function') return void out.push(functionTool(tool, at, null))
    if (tool.type !== 'namespace') throw unsupported(`Tool type '${tool.type.slice(0, 64)}' (only 'function' and 'namespace' tools are)`, `${at}.type`)
    if (typeof tool.name !== 'string' || !Array.isArray(tool.tools)) throw invalid(`Invalid '${at}': a namespace needs a name and tools.`, at)
    const namespace = tool.name
    namespaces.add(namespace)
    tool.tools.forEach((inner: unknown, j: number) => {
      const innerAt = `${at}.tools[${j}]`
      if (!isObject(inner) || inner.type !== 'function') throw unsupported(`Tool type '${String(isObject(inner) ? inner.type : inner).slice(0, 64)}' in a namespace`, `${innerAt}.type`)
      out.push(functionTool(inner, innerAt, namespace))
    })
  })
  return { tools: out.length > 0 ? out : undefined, echo: value, namespaces }
}

function toolChoice(value: unknown): unknown {
  if (value === undefined || value === null) return undefined
  if (value === 'auto' || value === 'none' || value === 'required') return value
  if (isObject(value) && value.type === 'function' && typeof value.name === 'string') return { type: 'function', function: { name: value.name } }
  if (isObject(value) && typeof value.type === 'string') throw unsupported(`tool_choice of type '${value.type.slice(0, 64)}'`, 'tool_choice')
  throw invalid("Invalid value for 'tool_choice': expected 'auto', 'none', 'required' or {type: 'function', name}.", 'tool_choice')
}

function textFormat(value: unknown): { format: Record<string, unknown> | undefined; echo: Record<string, unknown> } {
  if (value === undefined || value === null) return { format: undefined, echo: { format: { type: 'text' } } }
  if (!isObject(value)) throw invalid("Invalid type for 'text': expected an object.", 'text')
  for (const key of Object.keys(value)) if (key !== 'format' && key !== 'verbosity') throw invalid(`Unknown parameter: 'text.${key}'.`, `text.${key}`)
  const format = value.format
  if (format === undefined || format === null) return { format: undefined, echo: { format: { type: 'text' }, ...value } }
  if (!isObject(format)) throw invalid("Invalid type for 'text.format': expected an object.", 'text.format')
  switch (format.type) {
    case 'text':
      return { format: undefined, echo: value }
    case 'json_object':
      return { format: { type: 'json_object' }, echo: value }
    case 'json_schema': {
      if (typeof format.name !== 'string') throw invalid("Missing required parameter: 'text.format.name'.", 'text.format.name')
      if (!isObject(format.schema)) throw invalid("Missing required parameter: 'text.format.schema'.", 'text.format.schema')
      const schema: Record<string, unknown> = { name: format.name, schema: format.schema }
      if (typeof format.strict === 'boolean') schema.strict = format.strict
      if (typeof format.description === 'string') schema.description = format.description
      return { format: { type: 'json_schema', json_schema: schema }, echo: value }
    }
    default:
      throw invalid("Invalid value for 'text.format.type': expected 'text', 'json_object' or 'json_schema'.", 'text.format.type')
  }
}

function reasoning(value: unknown): { effort: string | undefined; echo: Record<string, unknown> | null } {
  if (value === undefined || value === null) return { effort: undefined, echo: null }
  if (!isObject(value)) throw invalid("Invalid type for 'reasoning': expected an object.", 'reasoning')
  for (const key of Object.keys(value)) {
    if (key !== 'effort' && key !== 'summary' && key !== 'generate_summary') throw invalid(`Unknown parameter: 'reasoning.${key}'.`, `reasoning.${key}`)
  }
  const effort = value.effort
  if (effort !== undefined && effort !== null && typeof effort !== 'string') throw invalid("Invalid type for 'reasoning.effort': expected a string.", 'reasoning.effort')
  return { effort: (effort as string | null) ?? undefined, echo: { effort: effort ?? null, summary: value.summary ?? null } }
}

function metadata(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null
  if (!isObject(value)) throw invalid("Invalid type for 'metadata': expected an object.", 'metadata')
  const keys = Object.keys(value)
  if (keys.length > 16) throw invalid(`Invalid 'metadata': at most 16 keys, got ${keys.length}.`, 'metadata')
  for (const key of keys) {
    if (key.length > 64) throw invalid(`Invalid 'metadata': key '${key.slice(0, 64)}…' is longer than 64 characters.`, 'metadata')
    const v = value[key]
    if (typeof v !== 'string' || v.length > 512) throw invalid(`Invalid 'metadata.${key}': expected a string of at most 512 characters.`, `metadata.${key}`)
  }
  return value as Record<string, string>
}

function conversationId(value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (typeof value === 'string') return value
  if (isObject(value) && typeof value.id === 'string') return value.id
  throw invalid("Invalid type for 'conversation': expected a conversation id or {id}.", 'conversation')
}

/** A create body as the surface runs it; a 400 naming the field for anything it cannot serve. */
export function parseCreate(body: unknown, maxItems: number): CreateRequest {
  if (!isObject(body)) throw invalid('The request body must be a JSON object.', null)
  for (const key of Object.keys(body)) {
    if (KNOWN.has(key) || IGNORED.has(key)) continue
    if (REFUSED[key] !== undefined) {
      if (body[key] === null || body[key] === undefined) continue
      throw unsupported(REFUSED[key]!, key)
    }
    throw invalid(`Unknown parameter: '${key.slice(0, 64)}'.`, key.slice(0, 64))
  }
  if (body.input === undefined || body.input === null) throw invalid("Missing required parameter: 'input'.", 'input')
  const input = inputItems(body.input, 'input', maxItems)
  const instructions = optional<string>(body, 'instructions', 'string') ?? null
  const temperature = optional<number>(body, 'temperature', 'number')
  range('temperature', temperature, 0, 2)
  const topP = optional<number>(body, 'top_p', 'number')
  range('top_p', topP, 0, 1)
  const maxOutput = optional<number>(body, 'max_output_tokens', 'integer')
  if (maxOutput !== undefined && maxOutput < 16) throw invalid(`Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, got ${maxOutput}.`, 'max_output_tokens')
  const parallel = optional<boolean>(body, 'parallel_tool_calls', 'boolean')
  const store = optional<boolean>(body, 'store', 'boolean') ?? true
  const background = optional<boolean>(body, 'background', 'boolean') ?? false
  const stream = optional<boolean>(body, 'stream', 'boolean') ?? false
  const user = optional<string>(body, 'user', 'string')
  const safety = optional<string>(body, 'safety_identifier', 'string')
  const previous = optional<string>(body, 'previous_response_id', 'string') ?? null
  const conversation = conversationId(body.conversation)
  if (previous !== null && conversation !== null) throw invalid("'previous_response_id' and 'conversation' cannot be used together.", 'conversation')
  if (background && !store) throw invalid("Background responses must be stored: 'background' needs 'store' true.", 'background')
  const truncation = optional<string>(body, 'truncation', 'string') ?? 'disabled'
  if (truncation !== 'disabled' && truncation !== 'auto') throw invalid("Invalid value for 'truncation': expected 'auto' or 'disabled'.", 'truncation')
  const include = body.include
  if (include !== undefined && include !== null) {
    if (!Array.isArray(include)) throw invalid("Invalid type for 'include': expected an array.", 'include')
    include.forEach((value, i) => {
      if (typeof value !== 'string' || !INCLUDABLE.has(value)) throw unsupported(`include value '${String(value).slice(0, 64)}'`, `include[${i}]`)
    })
  }
  const { tools: clientTools, echo: toolsEcho, namespaces } = tools(body.tools)
  const choice = toolChoice(body.tool_choice)
  const text = textFormat(body.text)
  const think = reasoning(body.reasoning)

  // Only what the client set reaches the params policy: an agent that allows nothing more refuses nothing more.
  const params: SamplingParams = {}
  if (temperature !== undefined) params.temperature = temperature
  if (topP !== undefined) params.top_p = topP
  if (maxOutput !== undefined) params.max_completion_tokens = maxOutput
  if (choice !== undefined) params.tool_choice = choice
  if (parallel !== undefined && clientTools !== undefined) params.parallel_tool_calls = parallel
  if (text.format !== undefined) params.response_format = text.format
  if (think.effort !== undefined) params.reasoning_effort = think.effort
  if (user !== undefined || safety !== undefined) params.user = safety ?? user

  const echo: CreateRequest['echo'] = {
    tool_choice: body.tool_choice ?? 'auto',
    parallel_tool_calls: parallel ?? true,
    temperature: temperature ?? null,
    top_p: topP ?? null,
    max_output_tokens: maxOutput ?? null,
    text: text.echo,
    reasoning: think.echo,
    truncation,
  }
  if (user !== undefined) echo.user = user
  if (safety !== undefined) echo.safety_identifier = safety
  return {
    input,
    instructions,
    tools: clientTools,
    toolsEcho,
    namespaces,
    params,
    store,
    background,
    stream,
    previousResponseId: previous,
    conversation,
    metadata: metadata(body.metadata),
    echo,
  }
}
