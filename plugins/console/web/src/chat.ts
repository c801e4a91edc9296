// A chat per agent: the answer streams in as it comes, tool calls and their results show as steps, then the
// finish reason and usage. Stop aborts the request: the server aborts the run (and logs it) when the client
// leaves. The conversation lives in this tab only.
import { ApiError, BASE, PREFIX, streamEvents } from './api.js'
import { h } from './dom.js'

type Message = { role: 'user' | 'assistant'; content: string }

/**
 * A Chat Completions chunk as the console's frames: its text, the client tools it calls, then (in the usage chunk
 * that `stream_options.include_usage` adds) the finish reason seen before, usage and model.
 */
function frameOfChunk(chunk: any, remember: (reason: string | null) => string | null): any {
  if (chunk.error) return { type: 'error', code: chunk.error.code, message: chunk.error.message }
  const choice = chunk.choices?.[0]
  if (choice) {
    remember(choice.finish_reason ?? null)
    if (choice.delta?.content) return { type: 'text', text: choice.delta.content }
    const call = choice.delta?.tool_calls?.[0]
    if (call?.function?.name) return { type: 'tool-call', id: call.id, name: call.function.name, arguments: call.function.arguments ?? '', external: true }
    return null
  }
  if (chunk.usage) return { type: 'final', finishReason: remember(null) ?? 'stop', usage: chunk.usage, model: chunk.model }
  return null
}
const conversations = new Map<string, Message[]>()

export function renderChat(view: HTMLElement, known: string[], selected: string | null): void {
  // An agent named in the URL may be a dynamic one not loaded yet: the server loads it on the first message.
  const agents = selected !== null && !known.includes(selected) ? [...known, selected] : known
  let agent = selected ?? agents[0] ?? ''
  let running: AbortController | null = null
  const log = h('div', { class: 'chat-log', 'aria-live': 'polite', role: 'log' })
  const input = h('textarea', { id: 'chat-input', rows: 3, placeholder: 'Message (Ctrl+Enter sends)', 'aria-label': 'Message' })
  const send = h('button', { id: 'chat-send', type: 'submit' }, 'Send')
  const stop = h('button', { id: 'chat-stop', type: 'button', disabled: true }, 'Stop')
  const picker = h('select', { id: 'chat-agent', 'aria-label': 'Agent' }, ...agents.map((name) => h('option', { value: name, selected: name === agent }, name)))
  // The console's route shows the loop's steps; Chat Completions is what any OpenAI client sees (the final text).
  const via = h(
    'select',
    { id: 'chat-route', 'aria-label': 'Route' },
    h('option', { value: 'console' }, 'with tool steps (console)'),
    h('option', { value: 'chat' }, 'as an OpenAI client (/chat/completions)'),
  )

  const show = () => {
    log.replaceChildren(...(conversations.get(agent) ?? []).map((m) => h('div', { class: `msg ${m.role}` }, h('div', { class: 'text' }, m.content))))
  }
  picker.addEventListener('change', () => {
    agent = picker.value
    show()
  })
  stop.addEventListener('click', () => running?.abort())

  async function submit(event: Event): Promise<void> {
    event.preventDefault()
    const content = input.value.trim()
    if (!content || running) return
    const history = conversations.get(agent) ?? []
    conversations.set(agent, history)
    history.push({ role: 'user', content })
    input.value = ''
    log.append(h('div', { class: 'msg user' }, h('div', { class: 'text' }, content)))
    const answer = h('div', { class: 'msg assistant streaming' })
    let text: HTMLElement | null = null
    log.append(answer)
    running = new AbortController()
    send.disabled = true
    stop.disabled = false
    const steps = new Map<string, HTMLElement>()
    let whole = ''
    try {
      const openai = via.value === 'chat'
      const url = openai ? `${PREFIX}/chat/completions` : `${BASE}/chat`
      const body = openai ? { model: agent, messages: history, stream: true, stream_options: { include_usage: true } } : { model: agent, messages: history }
      let finish: string | null = null
      await streamEvents(url, { method: 'POST', body, signal: running.signal }, (data) => {
        const frame = openai ? frameOfChunk(data, (reason) => (finish = reason ?? finish)) : data
        if (frame === null) return
        switch (frame.type) {
          case 'text':
            if (text === null) answer.append((text = h('div', { class: 'text' })))
            text.append(frame.text)
            whole += frame.text
            break
          case 'tool-call': {
            const step = h(
              'details',
              { class: 'step tool-call', open: true },
              h('summary', {}, `Tool call: ${frame.name}${frame.external ? ' (client tool)' : ''}`),
              h('pre', {}, frame.arguments),
            )
            steps.set(frame.id, step)
            answer.append(step)
            text = null
            break
          }
          case 'tool-result':
            ;(steps.get(frame.id) ?? answer).append(h('div', { class: `step tool-result${frame.error ? ' error' : ''}` }, h('strong', {}, 'Result: '), h('pre', {}, frame.content)))
            break
          case 'final':
            answer.append(
              h('p', { class: 'finish' }, `finish: ${frame.finishReason} · ${frame.usage?.prompt_tokens ?? 0} in, ${frame.usage?.completion_tokens ?? 0} out · ${frame.model}`),
            )
            break
          case 'error':
            answer.append(h('p', { class: 'error' }, `${frame.code}: ${frame.message}`))
            break
        }
      })
      history.push({ role: 'assistant', content: whole })
    } catch (error) {
      if (running.signal.aborted) answer.append(h('p', { class: 'finish stopped' }, 'stopped'))
      else answer.append(h('p', { class: 'error', role: 'alert' }, error instanceof ApiError ? `${error.code}: ${error.message}` : String(error)))
      if (whole) history.push({ role: 'assistant', content: whole })
    } finally {
      answer.classList.remove('streaming')
      running = null
      send.disabled = false
      stop.disabled = true
      input.focus()
    }
  }

  const form = h('form', { class: 'chat-form', onsubmit: (e: Event) => void submit(e) }, input, h('div', { class: 'row' }, send, stop))
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) form.requestSubmit()
  })
  view.append(h('div', { class: 'row' }, h('label', { for: 'chat-agent' }, 'Agent'), picker, h('label', { for: 'chat-route' }, 'Route'), via), log, form)
  show()
  input.focus()
}
