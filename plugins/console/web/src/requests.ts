// Recent requests (the server keeps the last N): filterable, one click (or Enter) to a request's details. The
// server records ids, routes, timings and codes only — what the request log line has, never a header or body.
import { BASE, getJson } from './api.js'
import { h, ms, time } from './dom.js'

interface Recent {
  id: string
  pid: number
  time: number
  agent: string | null
  surface: string
  method: string
  route: string
  status: number
  durationMs: number
  tokens: number | null
  error: string | null
  aborted: boolean
  models: unknown[]
  tools: unknown[]
}

export async function renderRequests(view: HTMLElement): Promise<void> {
  const filter = h('input', { id: 'requests-filter', type: 'search', placeholder: 'Filter: agent, status, code, id', 'aria-label': 'Filter requests' })
  const refresh = h('button', { type: 'button' }, 'Refresh')
  const body = h('tbody')
  const detail = h('pre', { class: 'detail', id: 'request-detail', tabindex: -1 })
  let rows: Recent[] = []

  const open = async (id: string) => {
    detail.textContent = JSON.stringify(await getJson(`${BASE}/api/requests/${encodeURIComponent(id)}`), null, 2)
    detail.focus()
  }
  const draw = () => {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean)
    const shown = rows.filter((r) => {
      const text = `${r.id} ${r.agent ?? ''} ${r.surface} ${r.status} ${r.error ?? ''} ${r.aborted ? 'aborted' : ''}`.toLowerCase()
      return words.every((word) => text.includes(word))
    })
    body.replaceChildren(
      ...shown.map((r) =>
        h(
          'tr',
          { class: r.status >= 400 || r.aborted ? 'bad' : '' },
          h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => void open(r.id) }, r.id)),
          h('td', {}, time(r.time)),
          h('td', {}, r.agent ?? '–'),
          h('td', {}, r.surface),
          h('td', {}, String(r.status), r.aborted ? ' (aborted)' : ''),
          h('td', {}, ms(r.durationMs)),
          h('td', {}, r.tokens === null ? '–' : String(r.tokens)),
          h('td', {}, r.error ?? ''),
          h('td', {}, String(r.pid)),
        ),
      ),
    )
  }
  const load = async () => {
    rows = (await getJson<{ requests: Recent[] }>(`${BASE}/api/requests`)).requests
    draw()
  }
  filter.addEventListener('input', draw)
  refresh.addEventListener('click', () => void load())
  view.append(
    h('div', { class: 'row' }, filter, refresh),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'requests' },
        h('thead', {}, h('tr', {}, ...['Id', 'Time', 'Agent', 'Surface', 'Status', 'Duration', 'Tokens', 'Error', 'Process'].map((t) => h('th', {}, t)))),
        body,
      ),
    ),
    detail,
  )
  await load()
}
