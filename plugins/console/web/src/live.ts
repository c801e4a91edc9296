// Live figures, one snapshot a second from the server (server-sent events), each as a small chart of the last
// minute: requests/s, p50/p99 latency, errors by code, tokens/s, streams open, pool queue and utilisation,
// rate-limit rejections.
import { ApiError, BASE, streamEvents } from './api.js'
import { clear, h, ms, svg } from './dom.js'

interface Snapshot {
  t: number
  rps: number
  p50: number | null
  p99: number | null
  errors: Record<string, number>
  tokensPerSec: number
  streamsOpen: number
  poolQueue: number
  poolUtilization: number
  poolThreads: number
  rejected: number
}

const FIGURES: Array<{ key: string; title: string; value: (s: Snapshot) => number; show: (s: Snapshot) => string }> = [
  { key: 'rps', title: 'Requests/s', value: (s) => s.rps, show: (s) => String(s.rps) },
  { key: 'p50', title: 'Latency p50', value: (s) => s.p50 ?? 0, show: (s) => ms(s.p50) },
  { key: 'p99', title: 'Latency p99', value: (s) => s.p99 ?? 0, show: (s) => ms(s.p99) },
  { key: 'errors', title: 'Errors/s', value: (s) => Object.values(s.errors).reduce((a, b) => a + b, 0), show: (s) => String(Object.values(s.errors).reduce((a, b) => a + b, 0)) },
  { key: 'tokens', title: 'Tokens/s', value: (s) => s.tokensPerSec, show: (s) => String(s.tokensPerSec) },
  { key: 'streams', title: 'Streams open', value: (s) => s.streamsOpen, show: (s) => String(s.streamsOpen) },
  { key: 'queue', title: 'Pool queue', value: (s) => s.poolQueue, show: (s) => `${s.poolQueue} (${s.poolThreads} threads)` },
  { key: 'utilization', title: 'Pool utilisation', value: (s) => s.poolUtilization, show: (s) => `${Math.round(s.poolUtilization * 100)}%` },
  { key: 'rejected', title: 'Rate-limit rejections/s', value: (s) => s.rejected, show: (s) => String(s.rejected) },
]

const WIDTH = 120
const HEIGHT = 32

function sparkline(values: number[]): SVGElement {
  const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'spark', role: 'img', 'aria-hidden': 'true' })
  const max = Math.max(1, ...values)
  const step = WIDTH / 59
  const start = 60 - values.length
  const points = values.map((v, i) => `${((start + i) * step).toFixed(1)},${(HEIGHT - 1 - (v / max) * (HEIGHT - 2)).toFixed(1)}`).join(' ')
  chart.append(svg('polyline', { points, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5 }))
  return chart
}

/** Renders the figures and keeps them live until `signal` aborts (the tab changes). */
export function renderLive(view: HTMLElement, signal: AbortSignal): void {
  const history: Snapshot[] = []
  const cards = new Map<string, { value: HTMLElement; chart: HTMLElement }>()
  const grid = h('div', { class: 'grid figures' })
  for (const figure of FIGURES) {
    const value = h('span', { class: 'value' }, '–')
    const chart = h('div', { class: 'chart-box' })
    cards.set(figure.key, { value, chart })
    grid.append(h('article', { class: 'card chart', 'data-figure': figure.key }, h('h3', {}, figure.title), value, chart))
  }
  const codes = h('ul', { class: 'codes', 'aria-label': 'Errors by code, last minute' })
  const status = h('p', { class: 'hint', role: 'status' }, 'Connecting…')
  view.append(status, grid, h('h3', {}, 'Errors by code (last minute)'), codes)

  const draw = () => {
    const last = history[history.length - 1]
    if (!last) return
    for (const figure of FIGURES) {
      const card = cards.get(figure.key)!
      card.value.textContent = figure.show(last)
      card.chart.replaceChildren(sparkline(history.map(figure.value)))
    }
    const totals: Record<string, number> = {}
    for (const s of history) for (const [code, n] of Object.entries(s.errors)) totals[code] = (totals[code] ?? 0) + n
    clear(codes)
    const entries = Object.entries(totals).sort((a, b) => b[1] - a[1])
    if (entries.length === 0) codes.append(h('li', {}, 'none'))
    for (const [code, n] of entries) codes.append(h('li', {}, h('code', {}, code), ` ${n}`))
  }

  streamEvents(`${BASE}/api/figures`, { signal }, (frame) => {
    if (Array.isArray(frame.history)) history.push(...(frame.history as Snapshot[]))
    else history.push(frame as Snapshot)
    while (history.length > 60) history.shift()
    status.textContent = 'Live: one snapshot a second, every process of this server added up.'
    draw()
  }).catch((error) => {
    if (!signal.aborted) status.textContent = error instanceof ApiError ? `${error.code}: ${error.message}` : `Disconnected: ${String(error)}`
  })
}
