// The local models: each turns a request into one whole answer, which the provider returns or streams.
import type { FinishReason, ModelRequest, SamplingParams, ToolCall } from '@robutler/kernel'
import { countWords, firstWords, messageText } from './text.js'

/** One model turn, before it is shaped as a response or as deltas. */
export interface Turn {
  content: string | null
  toolCalls: ToolCall[] | null
  finishReason: FinishReason
  completionTokens: number
  /** The stop sequence that cut the answer short. */
  stopSequence?: string
}

export type LocalModel = (request: ModelRequest) => Turn

// `/tool NAME {json}` on a line of its own; the JSON is optional and passed on as written, even when invalid,
// so tests can exercise how the agent runtime handles bad arguments.
const TOOL_LINE = /^\/tool\s+([^\s{]+)\s*(.*)$/

function textTurn(content: string): Turn {
  return { content, toolCalls: null, finishReason: 'stop', completionTokens: countWords(content) }
}

function stopsOf(params: SamplingParams): string[] {
  const stop = params.stop
  if (typeof stop === 'string') return stop ? [stop] : []
  return Array.isArray(stop) ? stop.filter((s): s is string => typeof s === 'string' && s.length > 0) : []
}

/**
 * An echo answer as a model with limits gives it: cut before the first stop sequence it contains (reporting
 * which), then to `max_completion_tokens` (else `max_tokens`) words, finishing with `length`.
 */
function limitedTurn(content: string, params: SamplingParams): Turn {
  let text = content
  let stopSequence: string | undefined
  for (const stop of stopsOf(params)) {
    const at = text.indexOf(stop)
    if (at >= 0) {
      text = text.slice(0, at)
      stopSequence = stop
    }
  }
  const max = params.max_completion_tokens ?? params.max_tokens
  if (typeof max === 'number' && max >= 0 && countWords(text) > max) {
    return { content: firstWords(text, max), toolCalls: null, finishReason: 'length', completionTokens: max }
  }
  const turn = textTurn(text)
  if (stopSequence !== undefined) turn.stopSequence = stopSequence
  return turn
}

function toolCallsOf(text: string, callSeed: number): ToolCall[] | null {
  let calls: ToolCall[] | null = null
  for (const line of text.split('\n')) {
    const match = TOOL_LINE.exec(line.trim())
    if (!match) continue
    calls ??= []
    calls.push({
      // The message count makes ids unique across the turns of one conversation, not only within a response.
      id: `call_${callSeed}_${calls.length}`,
      type: 'function',
      function: { name: match[1], arguments: match[2] || '{}' },
    })
  }
  return calls
}

/**
 * `echo`: the text of the last user message; `/tool NAME {json}` lines in it become tool calls; tool results at
 * the end of the conversation are answered with their texts, one a line. `stop` and `max_tokens` apply to the
 * text (limitedTurn).
 */
function echo(request: ModelRequest): Turn {
  const messages = request.messages
  let last = messages.length - 1
  if (last >= 0 && messages[last].role === 'tool') {
    let first = last
    while (first > 0 && messages[first - 1].role === 'tool') first--
    const texts: string[] = []
    for (let i = first; i <= last; i++) texts.push(messageText(messages[i]))
    return limitedTurn(texts.join('\n'), request.params)
  }
  while (last >= 0 && messages[last].role !== 'user') last--
  const text = last >= 0 ? messageText(messages[last]) : ''
  // The substring test keeps the common case (no tool lines) off the split and the regex.
  const calls = text.includes('/tool') ? toolCallsOf(text, messages.length) : null
  if (calls === null) return limitedTurn(text, request.params)
  return { content: null, toolCalls: calls, finishReason: 'tool_calls', completionTokens: calls.length }
}

/** `inspect`: what the model received, as one line of JSON. */
function inspect(request: ModelRequest): Turn {
  const tools = request.tools?.map((tool) => tool.function.name) ?? []
  return textTurn(JSON.stringify({ model: request.model, messages: request.messages, tools, params: request.params }))
}

export const LOCAL_MODELS: ReadonlyMap<string, LocalModel> = new Map([
  ['echo', echo],
  ['inspect', inspect],
])

/** The model of that name; an unknown name throws (the kernel answers 502). */
export function findModel(name: string): LocalModel {
  const model = LOCAL_MODELS.get(name)
  if (model === undefined) throw new Error(`local has no model '${name}'; models: ${[...LOCAL_MODELS.keys()].join(', ')}`)
  return model
}
