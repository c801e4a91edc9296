// A sticky step for the fake OpenAI (test/fixtures/fake-openai.ts) that behaves like plugin-local's `echo` model
// over the OpenAI wire format, so one scripted upstream can serve a whole load test:
//
//   fake.always(echoUpstream())
//
// The last user message decides, as with local/echo: its text comes back (word by word when streamed); lines
// `/tool NAME {json}` become tool calls; tool results at the end are answered with their texts, one a line.
// A leading directive makes the upstream misbehave for that request only:
//   `#slow TEXT`           streamed with SLOW_CHUNK_MS between chunks
//   `#stall-after N TEXT`  streamed: N content chunks, then nothing (the connection stays open); whole, or N = 0:
//                          no answer at all
//   `#drop-after N TEXT`   streamed: N content chunks, then the socket is destroyed; whole, or N = 0: destroyed
//                          before any answer
//   `#reset-once:ID TEXT`  the first request carrying ID is reset before any answer; later ones are served
import type { ServerResponse } from 'node:http'
import { chatChunk, chatCompletion, usageChunk, type Handler, type RecordedRequest } from '../fixtures/fake-openai.js'

export const SLOW_CHUNK_MS = 10

interface Plan {
  text: string | null
  toolCalls: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }> | null
  slow: boolean
  stallAfter: number | null
  dropAfter: number | null
  resetOnce: string | null
}

const DIRECTIVE = /^#(slow|stall-after|drop-after|reset-once)(?::(\S+))?(?:\s+(\d+))?\s*/

function contentText(content: unknown): string {
  if (typeof content === 'string') return content
  if (Array.isArray(content)) return content.map((part) => (typeof part?.text === 'string' ? part.text : '')).join('')
  return ''
}

function planOf(body: any): Plan {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : []
  const plan: Plan = { text: '', toolCalls: null, slow: false, stallAfter: null, dropAfter: null, resetOnce: null }
  let last = messages.length - 1
  if (last >= 0 && messages[last].role === 'tool') {
    let first = last
    while (first > 0 && messages[first - 1].role === 'tool') first--
    plan.text = messages.slice(first, last + 1).map((m) => contentText(m.content)).join('\n')
    return plan
  }
  while (last >= 0 && messages[last].role !== 'user') last--
  let text = last >= 0 ? contentText(messages[last].content) : ''
  const directive = DIRECTIVE.exec(text)
  if (directive) {
    text = text.slice(directive[0].length)
    const [, name, id, count] = directive
    if (name === 'slow') plan.slow = true
    else if (name === 'stall-after') plan.stallAfter = Number(count ?? 0)
    else if (name === 'drop-after') plan.dropAfter = Number(count ?? 0)
    else plan.resetOnce = id ?? ''
  }
  const calls = text
    .split('\n')
    .map((line) => /^\/tool\s+([^\s{]+)\s*(.*)$/.exec(line.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
  if (calls.length > 0) {
    plan.text = null
    plan.toolCalls = calls.map((m, i) => ({ id: `call_${messages.length}_${i}`, type: 'function', function: { name: m[1]!, arguments: m[2] || '{}' } }))
  } else plan.text = text
  return plan
}

/** The text split as plugin-local splits it: each word with the space after it. */
function pieces(text: string): string[] {
  return text === '' ? [''] : text.split(/(?<= )/)
}

function streamAnswer(plan: Plan, body: any, res: ServerResponse): void {
  // N = 0: nothing at all, not even the response head.
  if (plan.dropAfter === 0) return void res.socket?.destroy()
  if (plan.stallAfter === 0) return
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  const chunks: unknown[] = [chatChunk({ role: 'assistant', content: '' })]
  if (plan.toolCalls) {
    plan.toolCalls.forEach((call, index) => {
      chunks.push(chatChunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }))
      chunks.push(chatChunk({ tool_calls: [{ index, function: { arguments: call.function.arguments } }] }))
    })
    chunks.push(chatChunk({}, { finish_reason: 'tool_calls' }))
  } else {
    for (const piece of pieces(plan.text ?? '')) chunks.push(chatChunk({ content: piece }))
    chunks.push(chatChunk({}, { finish_reason: 'stop' }))
  }
  if (body?.stream_options?.include_usage) chunks.push(usageChunk())
  // Content chunks are counted after the role chunk.
  const stopAt = plan.stallAfter ?? plan.dropAfter
  const limit = stopAt === null ? Infinity : stopAt + 1
  const write = (i: number) => {
    if (res.destroyed) return
    if (i >= limit) {
      if (plan.dropAfter !== null) {
        const socket = res.socket
        socket?.write('', () => socket.destroy())
      }
      return // a stall: the answer stays open until the client gives up
    }
    if (i >= chunks.length) {
      res.end('data: [DONE]\n\n')
      return
    }
    res.write(`data: ${JSON.stringify(chunks[i])}\n\n`)
    if (plan.slow) setTimeout(() => write(i + 1), SLOW_CHUNK_MS).unref()
    else write(i + 1)
  }
  write(0)
}

/** The handler: pass it to `fake.always(...)`. */
export function echoUpstream(): Handler {
  const seen = new Set<string>()
  return function echoModel(request: RecordedRequest, res: ServerResponse) {
    const plan = planOf(request.body)
    if (plan.resetOnce !== null && !seen.has(plan.resetOnce)) {
      seen.add(plan.resetOnce)
      res.socket?.destroy()
      return
    }
    if (request.body?.stream) return streamAnswer(plan, request.body, res)
    if (plan.stallAfter !== null) return // never answers
    if (plan.dropAfter !== null) {
      res.socket?.destroy()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(chatCompletion({ content: plan.text, tool_calls: plan.toolCalls ?? undefined })))
  }
}
