// Spend, when plugin-usage serves `GET {urlPrefix}/usage` (by key, user, agent and model). The tab shows only
// when that endpoint answers; the console depends on nothing else of it.
import { getJson, headers, PREFIX } from './api.js'
import { h } from './dom.js'

/** Whether the usage endpoint answers this key. */
export async function usageAvailable(): Promise<boolean> {
  try {
    const response = await fetch(`${PREFIX}/usage`, { headers: headers(), cache: 'no-store' })
    return response.ok && (response.headers.get('content-type') ?? '').includes('json')
  } catch {
    // no such route, or the server went away: no spend tab
    return false
  }
}

type Rows = Array<Record<string, unknown>>

function table(title: string, rows: Rows): HTMLElement {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))]
  return h(
    'section',
    {},
    h('h3', {}, title),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', {}, c)))),
        h('tbody', {}, ...rows.map((row) => h('tr', {}, ...columns.map((c) => h('td', {}, typeof row[c] === 'object' ? JSON.stringify(row[c]) : String(row[c] ?? '')))))),
      ),
    ),
  )
}

export async function renderSpend(view: HTMLElement): Promise<void> {
  const answer = await getJson<Record<string, unknown>>(`${PREFIX}/usage`)
  const sections = Object.entries(answer).filter(([, value]) => Array.isArray(value)) as Array<[string, Rows]>
  if (sections.length === 0) view.append(h('pre', { class: 'detail' }, JSON.stringify(answer, null, 2)))
  for (const [name, rows] of sections) view.append(table(`By ${name.replace(/^by_/, '')}`, rows))
}
