// A chat per agent: the answer streams in as it comes, tool calls and their results show as steps, then the
// finish reason and usage. Stop aborts the request: the server aborts the run (and logs it) when the client
// leaves. The conversation lives in this tab only.
import { ApiError, BASE, streamEvents } from './api.js'
import { h } from './dom.js'

type Message = { role: 'user' | 'assistant'; content: string }
const conversations = new Map<string, Message[]>()

export function renderChat(view: HTMLElement, agents: string[], selected: string | null): void {
  let agent = selected ?? agents[0] ?? ''
  let running: AbortController | null = null
  const log = h('div', { class: 'chat-log', 'aria-live': 'polite', role: 'log' })
  const input = h('textarea', { id: 'chat-input', rows: 3, placeholder: 'Message (Ctrl+Enter sends)', 'aria-label': 'Message' })
  const send = h('button', { id: 'chat-send', type: 'submit' }, 'Send')
  const stop = h('button', { id: 'chat-stop', type: 'button', disabled: true }, 'Stop')
  const picker = h('select', { id: 'chat-agent', 'aria-label': 'Agent' }, ...agents.map((name) => h('option', { value: name, selected: name === agent }, name)))

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
      await streamEvents(`${BASE}/chat`, { method: 'POST', body: { model: agent, messages: history }, signal: running.signal }, (frame) => {
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
  view.append(h('div', { class: 'row' }, h('label', { for: 'chat-agent' }, 'Agent'), picker), log, form)
  show()
  input.focus()
}
