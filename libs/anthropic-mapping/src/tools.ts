// Tool definitions and the tool choice: OpenAI's function tools ↔ Anthropic's client tools.
import type Anthropic from '@anthropic-ai/sdk'
import type { ToolDefinition } from '@robutler/kernel'
import type { Invalid } from './invalid.js'

/** An OpenAI function tool as an Anthropic client tool (`strict: true` passes through). */
export function toAnthropicTool(tool: ToolDefinition): Anthropic.Tool {
  const { name, description, parameters, strict } = tool.function
  const schema = (parameters ?? {}) as Record<string, unknown>
  const out: Anthropic.Tool = { name, input_schema: { ...schema, type: 'object' } }
  if (description) out.description = description
  if (strict === true) out.strict = true
  return out
}

/**
 * An Anthropic tool as an OpenAI function tool. Only client tools (no `type`, or `custom`) map: a server tool
 * (`web_search_20250305`, `bash_20250124`, …) runs at Anthropic, which no other model does, so it is a 400
 * naming its type.
 */
export function fromAnthropicTool(tool: unknown, at: string, invalid: Invalid): ToolDefinition {
  const t = tool as { type?: unknown; name?: unknown; description?: unknown; input_schema?: unknown; strict?: unknown } | null
  if (t?.type != null && t.type !== 'custom') {
    throw invalid(
      `tool type '${String(t.type)}' is a server tool, which this server does not run; send client tools ({ name, description, input_schema }) and run them yourself`,
      `${at}.type`,
    )
  }
  if (typeof t?.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(t.name)) throw invalid('a tool needs a name of letters, digits, _ and -', `${at}.name`)
  if (t.input_schema === null || typeof t.input_schema !== 'object' || Array.isArray(t.input_schema)) {
    throw invalid('a tool needs an input_schema object', `${at}.input_schema`)
  }
  const fn: ToolDefinition['function'] = { name: t.name, parameters: t.input_schema as Record<string, unknown> }
  if (typeof t.description === 'string' && t.description) fn.description = t.description
  if (t.strict === true) fn.strict = true
  return { type: 'function', function: fn }
}

/**
 * OpenAI's `tool_choice` and `parallel_tool_calls` as Anthropic's tool_choice: `auto`, `required` → `any`,
 * `none`, a named function → `tool`; `parallel_tool_calls: false` → `disable_parallel_tool_use`.
 */
export function toAnthropicToolChoice(choice: unknown, parallel: unknown, invalid: Invalid): Anthropic.ToolChoice | undefined {
  const single = parallel === false ? { disable_parallel_tool_use: true } : {}
  if (choice == null) return parallel === false ? { type: 'auto', disable_parallel_tool_use: true } : undefined
  if (choice === 'auto') return { type: 'auto', ...single }
  if (choice === 'required') return { type: 'any', ...single }
  if (choice === 'none') return { type: 'none' }
  const named = (choice as { type?: unknown; function?: { name?: unknown } }).function?.name
  if (typeof named === 'string') return { type: 'tool', name: named, ...single }
  throw invalid('tool_choice must be auto, required, none or {"type":"function","function":{"name"}}', 'tool_choice')
}

/** Anthropic's tool_choice as OpenAI's `tool_choice` and `parallel_tool_calls`, the reverse of toAnthropicToolChoice. */
export function fromAnthropicToolChoice(choice: unknown, invalid: Invalid): { tool_choice?: unknown; parallel_tool_calls?: boolean } {
  if (choice == null) return {}
  const c = choice as { type?: unknown; name?: unknown; disable_parallel_tool_use?: unknown }
  const single = c.disable_parallel_tool_use === true ? { parallel_tool_calls: false } : {}
  switch (c.type) {
    case 'auto':
      return { tool_choice: 'auto', ...single }
    case 'any':
      return { tool_choice: 'required', ...single }
    case 'none':
      return { tool_choice: 'none' }
    case 'tool':
      if (typeof c.name !== 'string' || c.name === '') throw invalid("tool_choice of type 'tool' needs the tool's name", 'tool_choice.name')
      return { tool_choice: { type: 'function', function: { name: c.name } }, ...single }
    default:
      throw invalid(`tool_choice.type must be auto, any, tool or none, not ${JSON.stringify(c.type)}`, 'tool_choice.type')
  }
}
