// OpenAI chat messages, tools and sampling fields → one Anthropic Messages API request body.
import type Anthropic from '@anthropic-ai/sdk'
import { ERR_INVALID_REQUEST, type RobutlerError, type ChatMessage, type ContentPart, type ModelRequest, type SamplingParams, type ToolDefinition } from '@robutler/kernel'

type Block = Anthropic.ContentBlockParam
type Role = 'user' | 'assistant'

export interface ToAnthropicOptions {
  /** `max_tokens` when the request has neither `max_tokens` nor `max_completion_tokens` (the API requires one). */
  maxTokens: number
}

/** Media types the Messages API accepts for base64 images. */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp'])
const DATA_URL = /^data:([^;,]+);base64,(.*)$/s

/** A 400 for input this provider cannot express; the kernel passes RobutlerErrors through as they are. */
function invalid(message: string, param: string): RobutlerError {
  const error = ERR_INVALID_REQUEST(`anthropic: ${message}`)
  error.param = param
  return error
}

/** The text of a string or of text (and refusal) parts; anything else in `at` is refused. */
function textOf(content: ChatMessage['content'], at: string): string {
  if (content == null) return ''
  if (typeof content === 'string') return content
  let text = ''
  content.forEach((part, j) => {
    if (part.type === 'text' && typeof part.text === 'string') text += part.text
    else if (part.type === 'refusal' && typeof part.refusal === 'string') text += part.refusal
    else throw invalid(`content part type '${part.type}' is not supported here`, `${at}[${j}].type`)
  })
  return text
}

function imageBlock(part: ContentPart, at: string): Anthropic.ImageBlockParam {
  const field = part.image_url as string | { url?: unknown } | undefined
  const url = typeof field === 'string' ? field : field?.url
  if (typeof url !== 'string') throw invalid('image_url needs a url', `${at}.image_url.url`)
  const data = DATA_URL.exec(url)
  if (data) {
    const mediaType = data[1]!.toLowerCase()
    if (!IMAGE_TYPES.has(mediaType)) throw invalid(`image type '${mediaType}' is not supported (jpeg, png, gif, webp)`, `${at}.image_url.url`)
    return { type: 'image', source: { type: 'base64', media_type: mediaType as Anthropic.Base64ImageSource['media_type'], data: data[2]! } }
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } }
  throw invalid('an image_url must be an http(s) URL or a base64 data: URL', `${at}.image_url.url`)
}

function userBlocks(content: ChatMessage['content'], at: string): Block[] {
  if (content == null) return []
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : []
  const blocks: Block[] = []
  content.forEach((part, j) => {
    if (part.type === 'text') {
      if (part.text) blocks.push({ type: 'text', text: part.text })
    } else if (part.type === 'image_url') {
      blocks.push(imageBlock(part, `${at}[${j}]`))
    } else {
      throw invalid(`content part type '${part.type}' is not supported`, `${at}[${j}].type`)
    }
  })
  return blocks
}

/**
 * Tool-call arguments as the `input` object the API requires. Arguments that are not a JSON object (invalid
 * JSON, an array, '') become `{}`: the API refuses anything else, and the tool result that followed the call
 * already told the model what went wrong with it.
 */
function inputOf(args: string | undefined): Record<string, unknown> {
  if (!args) return {}
  try {
    const value: unknown = JSON.parse(args)
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

function assistantBlocks(message: ChatMessage, at: string): Block[] {
  const blocks: Block[] = []
  const text = textOf(message.content, `${at}.content`)
  if (text) blocks.push({ type: 'text', text })
  for (const call of message.tool_calls ?? []) {
    blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input: inputOf(call.function.arguments) })
  }
  return blocks
}

function toolResult(message: ChatMessage, at: string): Anthropic.ToolResultBlockParam {
  if (typeof message.tool_call_id !== 'string') throw invalid('a tool message needs tool_call_id', `${at}.tool_call_id`)
  const text = textOf(message.content, `${at}.content`)
  return text ? { type: 'tool_result', tool_use_id: message.tool_call_id, content: text } : { type: 'tool_result', tool_use_id: message.tool_call_id }
}

/** Consecutive turns of one role become one message: the API wants user and assistant to alternate. */
function push(turns: Array<{ role: Role; blocks: Block[] }>, role: Role, blocks: Block[]): void {
  if (blocks.length === 0) return
  const last = turns[turns.length - 1]
  if (last?.role === role) last.blocks.push(...blocks)
  else turns.push({ role, blocks })
}

function toolOf(tool: ToolDefinition): Anthropic.Tool {
  const { name, description, parameters, strict } = tool.function
  const schema = (parameters ?? {}) as Record<string, unknown>
  const out: Anthropic.Tool = { name, input_schema: { ...schema, type: 'object' } }
  if (description) out.description = description
  if (strict === true) out.strict = true
  return out
}

function toolChoiceOf(choice: unknown, parallel: unknown): Anthropic.ToolChoice | undefined {
  const single = parallel === false ? { disable_parallel_tool_use: true } : {}
  if (choice == null) return parallel === false ? { type: 'auto', disable_parallel_tool_use: true } : undefined
  if (choice === 'auto') return { type: 'auto', ...single }
  if (choice === 'required') return { type: 'any', ...single }
  if (choice === 'none') return { type: 'none' }
  const named = (choice as { type?: unknown; function?: { name?: unknown } }).function?.name
  if (typeof named === 'string') return { type: 'tool', name: named, ...single }
  throw invalid('tool_choice must be auto, required, none or {"type":"function","function":{"name"}}', 'tool_choice')
}

function stopOf(stop: SamplingParams['stop']): string[] | undefined {
  if (stop == null) return undefined
  const list = (Array.isArray(stop) ? stop : [stop]).filter((s) => typeof s === 'string' && s.length > 0)
  return list.length > 0 ? list : undefined
}

function maxTokensOf(params: SamplingParams, fallback: number): number {
  const value = params.max_completion_tokens ?? params.max_tokens ?? fallback
  if (!Number.isInteger(value) || value < 1) throw invalid('max_tokens must be a positive integer', params.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens')
  return value
}

/**
 * Maps one model call to a Messages API body. System and developer messages join (blank line between) into the
 * top-level `system`; tool messages become `tool_result` blocks of a user turn; same-role turns merge. Sampling
 * fields the API has no equivalent for are left out (see the README): `temperature` and `top_p` among them,
 * since API version 2026-10-21 (what @anthropic-ai/sdk 1.x sends) answers 400 to them.
 * @example
 * const body = toAnthropicRequest({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }], params: {} }, { maxTokens: 4096 })
 * // { model: 'claude-sonnet-4-5', max_tokens: 4096, messages: [{ role: 'user', content: 'hi' }] }
 */
export function toAnthropicRequest(request: ModelRequest, options: ToAnthropicOptions): Anthropic.MessageCreateParamsNonStreaming {
  const system: string[] = []
  const turns: Array<{ role: Role; blocks: Block[] }> = []
  request.messages.forEach((message, i) => {
    const at = `messages[${i}]`
    switch (message.role) {
      case 'system':
      case 'developer': {
        const text = textOf(message.content, `${at}.content`)
        if (text) system.push(text)
        break
      }
      case 'user':
        push(turns, 'user', userBlocks(message.content, `${at}.content`))
        break
      case 'assistant':
        push(turns, 'assistant', assistantBlocks(message, at))
        break
      case 'tool':
        push(turns, 'user', [toolResult(message, at)])
        break
      default:
        throw invalid(`role '${String((message as { role: unknown }).role)}' is not supported`, `${at}.role`)
    }
  })

  const params = request.params ?? {}
  const body: Anthropic.MessageCreateParamsNonStreaming = {
    model: request.model,
    max_tokens: maxTokensOf(params, options.maxTokens),
    messages: turns.map(({ role, blocks }) => ({
      role,
      // One plain text block is sent as a string, as people write it by hand.
      content: blocks.length === 1 && blocks[0]!.type === 'text' ? (blocks[0] as Anthropic.TextBlockParam).text : blocks,
    })),
  }
  if (system.length > 0) body.system = system.join('\n\n')
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map(toolOf)
    const choice = toolChoiceOf(params.tool_choice, params.parallel_tool_calls)
    if (choice) body.tool_choice = choice
  }
  const stop = stopOf(params.stop)
  if (stop) body.stop_sequences = stop
  const userId = params.safety_identifier ?? params.user
  if (typeof userId === 'string' && userId) body.metadata = { user_id: userId }
  return body
}
