// OpenAI chat messages, tools and sampling fields → one Anthropic Messages API request body (what a provider
// sends Anthropic). The reverse, for a surface that receives Messages API requests, is from-anthropic-request.ts.
import type Anthropic from '@anthropic-ai/sdk'
import type { ChatMessage, ModelRequest, SamplingParams } from '@robutler/kernel'
import { toImageBlock, toToolInput } from './content.js'
import { invalidWith } from './invalid.js'
import { toThinking } from './reasoning.js'
import { toAnthropicTool, toAnthropicToolChoice } from './tools.js'

type Block = Anthropic.ContentBlockParam
type Role = 'user' | 'assistant'

export interface ToAnthropicOptions {
  /** `max_tokens` when the request has neither `max_tokens` nor `max_completion_tokens` (the API requires one). */
  maxTokens: number
}

/** A 400 for input the provider cannot express; the kernel passes RobutlerErrors through as they are. */
const invalid = invalidWith('anthropic: ')

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

function userBlocks(content: ChatMessage['content'], at: string): Block[] {
  if (content == null) return []
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : []
  const blocks: Block[] = []
  content.forEach((part, j) => {
    if (part.type === 'text') {
      if (part.text) blocks.push({ type: 'text', text: part.text })
    } else if (part.type === 'image_url') {
      blocks.push(toImageBlock(part, `${at}[${j}]`, invalid))
    } else {
      throw invalid(`content part type '${part.type}' is not supported`, `${at}[${j}].type`)
    }
  })
  return blocks
}

function assistantBlocks(message: ChatMessage, at: string): Block[] {
  const blocks: Block[] = []
  const text = textOf(message.content, `${at}.content`)
  if (text) blocks.push({ type: 'text', text })
  for (const call of message.tool_calls ?? []) {
    blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input: toToolInput(call.function.arguments) })
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
 * top-level `system`; tool messages become `tool_result` blocks of a user turn; same-role turns merge;
 * `reasoning_effort` asks for thinking (THINKING_BUDGETS, within max_tokens). An assistant message's `reasoning`
 * is not sent back: thinking blocks need Anthropic's signature, which the kernel's messages do not keep. Sampling
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
    body.tools = request.tools.map(toAnthropicTool)
    const choice = toAnthropicToolChoice(params.tool_choice, params.parallel_tool_calls, invalid)
    if (choice) body.tool_choice = choice
  }
  const stop = stopOf(params.stop)
  if (stop) body.stop_sequences = stop
  const userId = params.safety_identifier ?? params.user
  if (typeof userId === 'string' && userId) body.metadata = { user_id: userId }
  const thinking = toThinking(params.reasoning_effort, body.max_tokens)
  if (thinking) body.thinking = thinking
  return body
}
