// Responses API items ↔ the agent loop's Chat Completions messages. Input items are checked here (an unknown type
// is a 400 naming it), given ids for storage, and turned into messages; stored output items become history.
import type { ChatMessage, ContentPart, ToolCall } from '@robutler/kernel'
import { invalid, unsupported } from './errors.js'
import { newId } from './ids.js'

export type Item = Record<string, unknown> & { type: string; id?: string }

/** The separator of a namespaced tool's name as the model sees it: `NAMESPACE__NAME`. */
const NAMESPACE_SEPARATOR = '__'

/** A namespace's function as the model sees it. */
export function flatName(namespace: string, name: string): string {
  return `${namespace}${NAMESPACE_SEPARATOR}${name}`
}

/** A client call's name and namespace as its function_call item gives them back. */
export function callName(name: string, namespaces: ReadonlySet<string>): { name: string; namespace?: string } {
  const at = name.indexOf(NAMESPACE_SEPARATOR)
  if (at <= 0 || namespaces.size === 0) return { name }
  const namespace = name.slice(0, at)
  return namespaces.has(namespace) ? { name: name.slice(at + NAMESPACE_SEPARATOR.length), namespace } : { name }
}

const ROLES = new Set(['user', 'system', 'developer', 'assistant'])

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function text(value: unknown, param: string): string {
  if (typeof value !== 'string') throw invalid(`Invalid type for '${param}': expected a string.`, param)
  return value
}

/** A message's content as stored: a list of typed parts. */
function contentParts(role: string, content: unknown, param: string): Record<string, unknown>[] {
  if (typeof content === 'string') return [{ type: role === 'assistant' ? 'output_text' : 'input_text', text: content, ...(role === 'assistant' ? { annotations: [] } : {}) }]
  if (!Array.isArray(content)) throw invalid(`Invalid type for '${param}': expected a string or an array of content parts.`, param)
  return content.map((part, i) => {
    const at = `${param}[${i}]`
    if (!isObject(part) || typeof part.type !== 'string') throw invalid(`Invalid value for '${at}': a content part needs a type.`, at)
    switch (part.type) {
      case 'input_text':
      case 'output_text':
        text(part.text, `${at}.text`)
        return part
      case 'refusal':
        text(part.refusal, `${at}.refusal`)
        return part
      case 'input_image':
        if (typeof part.image_url !== 'string') throw unsupported(`An input_image without image_url (file_id)`, `${at}.image_url`)
        return part
      default:
        throw unsupported(`Content part type '${part.type}'`, `${at}.type`)
    }
  })
}

/**
 * Checks a request's `input` and answers its items as stored (each with an id), in order.
 * @example
 * inputItems('Hello', 'input') // [{ id: 'msg_…', type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hello' }], status: 'completed' }]
 */
export function inputItems(input: unknown, param: string, maxItems: number): Item[] {
  if (typeof input === 'string') return [{ id: newId('msg'), type: 'message', role: 'user', content: [{ type: 'input_text', text: input }], status: 'completed' }]
  if (!Array.isArray(input)) throw invalid(`Invalid type for '${param}': expected a string or an array of input items.`, param)
  if (input.length > maxItems) throw invalid(`Invalid '${param}': array too long. Expected an array with at most ${maxItems} items, got ${input.length}.`, param)
  return input.map((raw, i) => inputItem(raw, `${param}[${i}]`))
}

function inputItem(raw: unknown, at: string): Item {
  if (!isObject(raw)) throw invalid(`Invalid type for '${at}': expected an input item object.`, at)
  const type = raw.type ?? (raw.role !== undefined ? 'message' : undefined)
  switch (type) {
    case 'message': {
      const role = raw.role
      if (typeof role !== 'string' || !ROLES.has(role)) throw invalid(`Invalid value for '${at}.role': expected one of user, system, developer, assistant.`, `${at}.role`)
      return { id: typeof raw.id === 'string' ? raw.id : newId('msg'), type: 'message', role, content: contentParts(role, raw.content, `${at}.content`), status: 'completed' }
    }
    case 'function_call': {
      const item: Item = {
        id: typeof raw.id === 'string' ? raw.id : newId('fc'),
        type: 'function_call',
        call_id: text(raw.call_id, `${at}.call_id`),
        name: text(raw.name, `${at}.name`),
        arguments: text(raw.arguments, `${at}.arguments`),
        status: 'completed',
      }
      if (typeof raw.namespace === 'string') item.namespace = raw.namespace
      return item
    }
    case 'function_call_output': {
      const output = raw.output
      if (typeof output !== 'string' && !Array.isArray(output)) throw invalid(`Invalid type for '${at}.output': expected a string or an array of content parts.`, `${at}.output`)
      return { id: typeof raw.id === 'string' ? raw.id : newId('fco'), type: 'function_call_output', call_id: text(raw.call_id, `${at}.call_id`), output, status: 'completed' }
    }
    case 'reasoning':
      return { id: typeof raw.id === 'string' ? raw.id : newId('rs'), type: 'reasoning', summary: Array.isArray(raw.summary) ? raw.summary : [], ...(Array.isArray(raw.content) ? { content: raw.content } : {}) }
    case undefined:
      throw invalid(`Missing required parameter: '${at}.type'.`, `${at}.type`)
    default:
      throw unsupported(`Input item type '${String(type).slice(0, 64)}'`, `${at}.type`)
  }
}

function partsText(parts: unknown): string {
  if (typeof parts === 'string') return parts
  if (!Array.isArray(parts)) return ''
  let out = ''
  for (const part of parts as Array<Record<string, unknown>>) if (typeof part.text === 'string') out += part.text
  return out
}

function userContent(parts: Array<Record<string, unknown>>): string | ContentPart[] {
  if (parts.length === 1 && parts[0]!.type === 'input_text') return parts[0]!.text as string
  return parts.map((part) =>
    part.type === 'input_image'
      ? { type: 'image_url', image_url: { url: part.image_url as string, ...(part.detail ? { detail: part.detail } : {}) } }
      : { type: 'text', text: (part.text as string) ?? '' },
  )
}

/** Stored items (history, then this request's input) as the loop's messages. */
export function messagesOf(items: Item[], into: ChatMessage[] = []): ChatMessage[] {
  let reasoning = ''
  /** The assistant message that function calls join while no other message came between. */
  let open: ChatMessage | null = null
  for (const item of items) {
    switch (item.type) {
      case 'message': {
        const parts = item.content as Array<Record<string, unknown>>
        if (item.role === 'assistant') {
          const refusal = parts.find((part) => part.type === 'refusal')
          open = { role: 'assistant', content: partsText(parts.filter((part) => part.type !== 'refusal')) || null }
          if (refusal) open.refusal = refusal.refusal as string
          if (reasoning) open.reasoning = reasoning
          reasoning = ''
          into.push(open)
        } else {
          open = null
          into.push({ role: item.role as ChatMessage['role'], content: userContent(parts) })
        }
        break
      }
      case 'function_call': {
        const name = typeof item.namespace === 'string' ? flatName(item.namespace, item.name as string) : (item.name as string)
        const call: ToolCall = { id: item.call_id as string, type: 'function', function: { name, arguments: item.arguments as string } }
        if (open === null) {
          open = { role: 'assistant', content: null }
          if (reasoning) open.reasoning = reasoning
          reasoning = ''
          into.push(open)
        }
        ;((open.tool_calls as ToolCall[] | undefined) ?? (open.tool_calls = [])).push(call)
        break
      }
      case 'function_call_output':
        into.push({ role: 'tool', tool_call_id: item.call_id as string, content: partsText(item.output) })
        break
      case 'reasoning':
        reasoning += partsText(item.content) || partsText(item.summary)
        break
      default:
        break
    }
    if (item.type === 'function_call_output' || (item.type === 'message' && item.role !== 'assistant')) open = null
  }
  return into
}
