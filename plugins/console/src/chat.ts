// The console's chat: the Chat Completions body (`model` names the agent), run through the surfaces API — the
// same admission, access rules, limits, request log and events as any client's request — and answered as
// server-sent events of the loop itself, so that internal tool calls and their results show as steps (Chat
// Completions carries only the final text of a run whose tools the server ran).
import { ERR_INVALID_REQUEST, type AgentEvent, type AgentSession, type ChatMessage } from '@robutler/kernel'

/** What the page reads: one JSON object per event. */
type ChatFrame =
  | { type: 'model'; model: string; turn: number }
  | { type: 'text'; text: string }
  | { type: 'tool-call'; id: string; name: string; arguments: string; external: boolean }
  | { type: 'tool-result'; id: string; name: string; content: string; error: boolean }
  | { type: 'final'; finishReason: string; usage: unknown; model: string }
  | { type: 'error'; code: string; message: string }

function frameOf(event: AgentEvent): ChatFrame | null {
  switch (event.type) {
    case 'model-start':
      return { type: 'model', model: event.model, turn: event.turn }
    case 'text-delta':
    case 'refusal-delta':
      return { type: 'text', text: event.text }
    case 'tool-call':
      return { type: 'tool-call', id: event.call.id, name: event.call.function.name, arguments: event.call.function.arguments, external: event.external }
    case 'tool-result':
      return { type: 'tool-result', id: event.callId, name: event.name, content: event.content, error: event.error }
    case 'final':
      return { type: 'final', finishReason: event.finishReason, usage: event.usage, model: event.model }
    case 'error':
      return { type: 'error', code: event.error.code, message: event.error.message }
    default:
      return null
  }
}

/** The conversation of a chat body: user and assistant texts only (the console sends nothing else). */
export function messagesOf(body: unknown): ChatMessage[] {
  const messages = (body as { messages?: unknown } | null)?.messages
  if (!Array.isArray(messages) || messages.length === 0 || messages.length > 200) {
    throw ERR_INVALID_REQUEST('messages must be an array of 1 to 200 { role, content } objects')
  }
  return messages.map((message, i) => {
    const { role, content } = (message ?? {}) as { role?: unknown; content?: unknown }
    if ((role !== 'user' && role !== 'assistant') || typeof content !== 'string') {
      throw ERR_INVALID_REQUEST(`messages[${i}] must be { role: "user" | "assistant", content: string }`)
    }
    return { role, content }
  })
}

/** Runs the agent for the page, streaming its events; errors after the first byte arrive as an `error` frame. */
export async function runChat(session: AgentSession, body: unknown): Promise<void> {
  const messages = messagesOf(body)
  const sse = session.sse()
  await session.run({ messages, params: {}, stream: true }, (event) => {
    const frame = frameOf(event)
    return frame === null ? undefined : sse.send(frame)
  })
  sse.end('data: [DONE]\n\n')
}
