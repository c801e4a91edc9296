// An MCP tool result as the model reads it: a tool message is text, so text parts pass as they are, structured
// content as JSON when no text says it, and media by what they are (the model of a Chat Completions tool message
// cannot see an image; a placeholder says one was returned rather than filling the context with base64).
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'

type Part = CallToolResult['content'][number]

function sizeOf(base64: string): string {
  const bytes = Math.floor((base64.length * 3) / 4)
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${bytes} bytes`
}

function partText(part: Part): string {
  switch (part.type) {
    case 'text':
      return part.text
    case 'image':
      return `[image ${part.mimeType}, ${sizeOf(part.data)}]`
    case 'audio':
      return `[audio ${part.mimeType}, ${sizeOf(part.data)}]`
    case 'resource_link':
      return `[resource ${part.uri}${part.name ? ` (${part.name})` : ''}${part.mimeType ? `, ${part.mimeType}` : ''}]`
    case 'resource': {
      const resource = part.resource
      if ('text' in resource && typeof resource.text === 'string') return resource.text
      const blob = 'blob' in resource && typeof resource.blob === 'string' ? `, ${sizeOf(resource.blob)}` : ''
      return `[resource ${resource.uri}${resource.mimeType ? `, ${resource.mimeType}` : ''}${blob}]`
    }
    default:
      return `[${(part as { type: string }).type} content]`
  }
}

/** The text of a result: its parts one a line; its structured content as JSON when it has no text part. */
export function resultText(result: CallToolResult): string {
  const parts = Array.isArray(result.content) ? result.content : []
  const hasText = parts.some((part) => part.type === 'text')
  const texts = parts.map(partText)
  if (!hasText && result.structuredContent !== undefined) texts.unshift(JSON.stringify(result.structuredContent))
  return texts.join('\n')
}
