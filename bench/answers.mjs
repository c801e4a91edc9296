// What the benchmarks send the echo agent, and how they check what comes back: an answer must be right (and, against
// a baseline, of the same shape) before its speed means anything.

/** The echo agent's chat route on bench/servers/kernel.mjs (and the baseline's same route). */
export const PATH = '/echo/chat/completions'
export const JSON_HEADERS = { 'content-type': 'application/json' }
const FIFTY_WORDS = Array.from({ length: 50 }, (_, i) => `word${i}`).join(' ')
/** kernel-json's request (and every benchmark built on it): a whole answer echoing two words. */
export const JSON_BODY = JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hello world' }] })
/** kernel-stream's request: 50 words echoed back as 50 streamed chunks. */
export const STREAM_BODY = JSON.stringify({ model: 'x', stream: true, messages: [{ role: 'user', content: FIFTY_WORDS }] })

export function fail(message) {
  throw new Error(message)
}

/** A value's shape: its keys and value types, recursively (ids, times and texts may differ). */
export function shape(value) {
  if (Array.isArray(value)) return `[${value.map(shape).join(',')}]`
  if (value && typeof value === 'object') return `{${Object.keys(value).sort().map((k) => `${k}:${shape(value[k])}`).join(',')}}`
  return value === null ? 'null' : typeof value
}

/** The `data:` payloads of an SSE body, in order (a whole stream's last one is `[DONE]`). */
export function sseEvents(text) {
  return text.split('\n\n').filter(Boolean).map((event) => event.replace(/^data: /, ''))
}

/** The chunks of a whole stream's events: every event but the closing `[DONE]`, parsed. */
export function streamChunks(events) {
  return events.slice(0, -1).map((event) => JSON.parse(event))
}

/** The text a stream's chunks carry, joined. */
export function streamedText(chunks) {
  return chunks.map((chunk) => chunk.choices?.[0]?.delta?.content ?? '').join('')
}

/**
 * kernel-json's check: a 200 chat.completion echoing 'hello world'. Returns the answer's shape, which the callers
 * compare across the servers measured side by side.
 */
export function checkJson({ status, text }) {
  if (status !== 200) fail(`status ${status}: ${text.slice(0, 200)}`)
  const body = JSON.parse(text)
  if (body.object !== 'chat.completion' || body.choices?.[0]?.message?.content !== 'hello world') {
    fail(`unexpected body: ${text.slice(0, 200)}`)
  }
  return shape(body)
}

/** kernel-stream's check: an event stream of 50 word chunks echoing FIFTY_WORDS, then [DONE]. Returns its shapes. */
export function checkStream({ status, headers, text }) {
  if (status !== 200) fail(`status ${status}: ${text.slice(0, 200)}`)
  if (!headers.get('content-type')?.startsWith('text/event-stream')) fail(`content-type ${headers.get('content-type')}`)
  const events = sseEvents(text)
  if (events.at(-1) !== '[DONE]') fail('the stream does not end with data: [DONE]')
  const chunks = streamChunks(events)
  const words = chunks.filter((chunk) => chunk.choices[0].delta.content)
  const joined = words.map((chunk) => chunk.choices[0].delta.content).join('')
  if (words.length !== 50 || joined !== FIFTY_WORDS) fail(`expected 50 word chunks echoing the input, got ${words.length}`)
  return `${chunks.length} events: ${[...new Set(chunks.map(shape))].join(' | ')}`
}
