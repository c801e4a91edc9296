// The `beforeLlmCall` hook that tells the model today's date, in the first system message.
import type { ChatMessage, ModelRequest, RequestContext } from '@robutler/kernel'

/** Appends `Current date: YYYY-MM-DD (UTC)` to the request's leading system message, or adds one. */
export function addCurrentDate(_ctx: RequestContext, request: ModelRequest): void {
  const line = `Current date: ${new Date().toISOString().slice(0, 10)} (UTC)`
  const first = request.messages[0]
  if (first?.role !== 'system') {
    request.messages.unshift({ role: 'system', content: line })
    return
  }
  const content = first.content
  let updated: ChatMessage['content']
  if (Array.isArray(content)) {
    if (content.some((part) => part.text === line)) return
    updated = [...content, { type: 'text', text: line }]
  } else {
    // The runtime may hand the same message list to several calls of one request: add the line once.
    if (content?.includes(line)) return
    updated = content ? `${content}\n${line}` : line
  }
  // A new message object, not an edit of the old one: the system message may be shared, built once per agent.
  request.messages[0] = { ...first, content: updated }
}
