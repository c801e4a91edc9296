// One Anthropic Messages API request body → the conversation in OpenAI chat terms (what a surface that receives
// Messages API requests hands the agent loop). The reverse, for a provider that calls Anthropic, is
// to-anthropic-request.ts.
import type { ChatMessage, ContentPart, SamplingParams, ToolCall, ToolDefinition } from '@robutler/kernel'
import { fromImageBlock, toToolArguments } from './content.js'
import { invalidWith } from './invalid.js'
import { fromThinking } from './reasoning.js'
import { fromAnthropicTool, fromAnthropicToolChoice } from './tools.js'

/** The conversation of a Messages API request, in OpenAI chat terms. */
export interface ChatConversation {
  messages: ChatMessage[]
  /** The client's own tools (none: undefined). */
  tools: ToolDefinition[] | undefined
  params: SamplingParams
}

const invalid = invalidWith('')

type Block = { type?: unknown; [key: string]: unknown }

function blocksOf(content: unknown, at: string): Block[] {
  if (!Array.isArray(content)) throw invalid('content must be a string or an array of content blocks', at)
  content.forEach((block, j) => {
    if (block === null || typeof block !== 'object' || typeof (block as Block).type !== 'string') throw invalid('a content block needs a type', `${at}[${j}].type`)
  })
  return content as Block[]
}

function textOfBlock(block: Block, at: string): string {
  if (typeof block.text !== 'string') throw invalid('a text block needs text', `${at}.text`)
  return block.text
}

/** A tool_result's content as the text of a tool message: a string, or its text blocks joined. */
function toolResultText(block: Block, at: string): string {
  const content = block.content
  let text = ''
  if (typeof content === 'string') text = content
  else if (content != null) {
    blocksOf(content, `${at}.content`).forEach((part, k) => {
      if (part.type === 'text') text += (text ? '\n' : '') + textOfBlock(part, `${at}.content[${k}]`)
      else throw invalid(`a tool_result block of type '${String(part.type)}' is not supported here (text only)`, `${at}.content[${k}].type`)
    })
  }
  // Chat tool messages have no error flag: the model reads it in the text.
  return block.is_error === true ? `Error: ${text}` : text
}

function userTurn(content: unknown, at: string, out: ChatMessage[]): void {
  if (typeof content === 'string') {
    out.push({ role: 'user', content })
    return
  }
  const parts: ContentPart[] = []
  blocksOf(content, at).forEach((block, j) => {
    const where = `${at}[${j}]`
    switch (block.type) {
      case 'text':
        parts.push({ type: 'text', text: textOfBlock(block, where) })
        break
      case 'image':
        parts.push(fromImageBlock(block, where, invalid))
        break
      case 'tool_result':
        if (typeof block.tool_use_id !== 'string' || block.tool_use_id === '') throw invalid('a tool_result needs tool_use_id', `${where}.tool_use_id`)
        // Tool messages come first: chat wants them right after the assistant turn that made the calls.
        out.push({ role: 'tool', tool_call_id: block.tool_use_id, content: toolResultText(block, where) })
        break
      default:
        throw invalid(`content block type '${String(block.type)}' is not supported in a user turn (text, image, tool_result)`, `${where}.type`)
    }
  })
  if (parts.length > 0) out.push({ role: 'user', content: parts.length === 1 && parts[0]!.type === 'text' ? parts[0]!.text! : parts })
}

function assistantTurn(content: unknown, at: string, out: ChatMessage[]): void {
  if (typeof content === 'string') {
    out.push({ role: 'assistant', content })
    return
  }
  let text = ''
  const calls: ToolCall[] = []
  blocksOf(content, at).forEach((block, j) => {
    const where = `${at}[${j}]`
    switch (block.type) {
      case 'text':
        text += textOfBlock(block, where)
        break
      case 'tool_use':
        if (typeof block.id !== 'string' || block.id === '') throw invalid('a tool_use block needs an id', `${where}.id`)
        if (typeof block.name !== 'string' || block.name === '') throw invalid('a tool_use block needs a name', `${where}.name`)
        calls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: toToolArguments(block.input) } })
        break
      case 'thinking':
      case 'redacted_thinking':
        // Accepted and not sent on: their signatures are Anthropic's, and a model of another provider could not read them.
        break
      default:
        throw invalid(`content block type '${String(block.type)}' is not supported in an assistant turn (text, tool_use, thinking)`, `${where}.type`)
    }
  })
  const message: ChatMessage = { role: 'assistant', content: text || (calls.length > 0 ? null : '') }
  if (calls.length > 0) message.tool_calls = calls
  out.push(message)
}

function systemText(system: unknown): string {
  if (typeof system === 'string') return system
  return blocksOf(system, 'system')
    .map((block, j) => {
      if (block.type !== 'text') throw invalid(`system blocks must be text, not '${String(block.type)}'`, `system[${j}].type`)
      return textOfBlock(block, `system[${j}]`)
    })
    .join('\n\n')
}

/**
 * Maps a Messages API request body to chat messages, tools and sampling params. `system` (a string, or text
 * blocks joined with a blank line) becomes a system message; a user turn's `tool_result` blocks become tool
 * messages (first, as chat wants them after the calls), its text and images one user message; an assistant
 * turn's text and `tool_use` blocks one assistant message with `tool_calls` (thinking blocks are accepted and
 * dropped). `max_tokens`, `stop_sequences` (→ `stop`), `temperature`, `top_p`, `top_k`, `metadata.user_id`
 * (→ `user`), `thinking` (→ `reasoning_effort`, see fromThinking), `tools` and `tool_choice` (only with tools)
 * become params. Other fields are the caller's to check. Anything it cannot express is a 400 naming the field.
 * @example
 * fromAnthropicRequest({ max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user', content: 'hi' }] })
 * // { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }], tools: undefined, params: { max_tokens: 64 } }
 */
export function fromAnthropicRequest(body: Record<string, unknown>): ChatConversation {
  const messages: ChatMessage[] = []
  if (body.system != null) {
    const text = systemText(body.system)
    if (text) messages.push({ role: 'system', content: text })
  }
  if (!Array.isArray(body.messages)) throw invalid('messages must be an array', 'messages')
  body.messages.forEach((message: unknown, i) => {
    const m = message as { role?: unknown; content?: unknown } | null
    const at = `messages[${i}]`
    if (m?.role === 'user') userTurn(m.content, `${at}.content`, messages)
    else if (m?.role === 'assistant') assistantTurn(m.content, `${at}.content`, messages)
    else throw invalid(`role must be user or assistant, not ${JSON.stringify(m?.role)}`, `${at}.role`)
  })

  const params: SamplingParams = {}
  if (body.max_tokens !== undefined) params.max_tokens = body.max_tokens as number
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length > 0) params.stop = body.stop_sequences as string[]
  for (const key of ['temperature', 'top_p', 'top_k'] as const) if (body[key] != null) params[key] = body[key] as number
  const userId = (body.metadata as { user_id?: unknown } | undefined)?.user_id
  if (typeof userId === 'string' && userId) params.user = userId
  const effort = fromThinking(body.thinking)
  if (effort) params.reasoning_effort = effort

  let tools: ToolDefinition[] | undefined
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    tools = body.tools.map((tool, i) => fromAnthropicTool(tool, `tools[${i}]`, invalid))
    Object.assign(params, fromAnthropicToolChoice(body.tool_choice, invalid))
  }
  return { messages, tools, params }
}
