// Prompts, completions and tool payloads as span attributes, only when the operator opts in (captureContent): in
// the GenAI conventions' message shape (role + parts), secrets redacted as the logs redact them, and cut to
// maxContentBytes.
import type { ChatMessage, ToolCall } from '@robutler/kernel'

/** Object keys whose values never leave the process: the names the kernel's logger redacts. */
const SECRET_KEYS = new Set(['apikey', 'api_key', 'key', 'token', 'password', 'authorization', 'cookie', 'x-api-key', 'secret'])
/** Credentials written into text: API keys of the common providers and bearer tokens. */
const SECRET_TEXT = /\b(?:sk|pk|rk)-[A-Za-z0-9_-]{8,}|\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/g
const CENSOR = '[redacted]'
const CUT = '…[truncated]'

export function redactText(text: string): string {
  return text.replace(SECRET_TEXT, CENSOR)
}

function redactValue(value: unknown): unknown {
  if (typeof value === 'string') return redactText(value)
  if (Array.isArray(value)) return value.map(redactValue)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[key] = SECRET_KEYS.has(key.toLowerCase()) ? CENSOR : redactValue(item)
    return out
  }
  return value
}

/** Cuts a string to at most `max` bytes of UTF-8, marking the cut. */
export function truncate(text: string, max: number): string {
  if (text.length * 3 <= max || Buffer.byteLength(text) <= max) return text
  const room = max - Buffer.byteLength(CUT)
  let cut = Buffer.from(text).subarray(0, Math.max(0, room)).toString('utf8')
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1)
  return cut + CUT
}

/** A JSON text (tool arguments) with its secret-named keys redacted; not JSON: redacted as text. */
export function redactJsonText(text: string): string {
  try {
    return JSON.stringify(redactValue(JSON.parse(text)))
  } catch {
    return redactText(text)
  }
}

function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content.map((part) => (typeof part.text === 'string' ? part.text : '')).join('')
}

function argumentsOf(text: string): unknown {
  try {
    return redactValue(JSON.parse(text))
  } catch {
    return redactText(text)
  }
}

function callParts(calls: ToolCall[] | undefined): unknown[] {
  return (calls ?? []).map((call) => ({ type: 'tool_call', id: call.id, name: call.function.name, arguments: argumentsOf(call.function.arguments) }))
}

type Part = Record<string, unknown>

function partsOf(message: ChatMessage): Part[] {
  const parts: Part[] = []
  const text = textOf(message.content)
  if (message.role === 'tool') return [{ type: 'tool_call_response', id: message.tool_call_id ?? null, response: redactText(text) }]
  if (text) parts.push({ type: 'text', content: redactText(text) })
  parts.push(...(callParts(message.tool_calls) as Part[]))
  return parts
}

/** gen_ai.system_instructions and gen_ai.input.messages of one model call. */
export function inputAttributes(messages: ChatMessage[], max: number): { system: string | undefined; input: string } {
  const system: Part[] = []
  const input: unknown[] = []
  for (const message of messages) {
    if (message.role === 'system' || message.role === 'developer') system.push({ type: 'text', content: redactText(textOf(message.content)) })
    else input.push({ role: message.role, parts: partsOf(message) })
  }
  return { system: system.length > 0 ? truncate(JSON.stringify(system), max) : undefined, input: truncate(JSON.stringify(input), max) }
}

/** gen_ai.output.messages: the one answer of a call or run. */
export function outputAttribute(content: string | null, toolCalls: ToolCall[] | undefined, finishReason: string | null, max: number): string {
  const parts: unknown[] = []
  if (content) parts.push({ type: 'text', content: redactText(content) })
  parts.push(...callParts(toolCalls))
  return truncate(JSON.stringify([{ role: 'assistant', parts, finish_reason: finishReason ?? 'stop' }]), max)
}
