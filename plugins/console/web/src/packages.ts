// Installed packages, as `robutler doctor` reports them: problems on top, then every package found.
import { BASE, getJson } from './api.js'
import { append, h } from './dom.js'

interface Report {
  kernelVersion: string
  problems: Array<{ code: string; message: string; package?: string; hint?: string }>
  packages: Array<{ name: string; version: string; kind: string; kernelRange: string | null; compatible: boolean; enabled: boolean; permissions: Record<string, unknown> | null }>
}

export async function renderPackages(view: HTMLElement): Promise<void> {
  const report = await getJson<Report>(`${BASE}/api/packages`)
  append(view, [
    h('h2', {}, report.problems.length ? `${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}` : 'No problems'),
    report.problems.length
      ? h('ul', { class: 'problems' }, ...report.problems.map((p) => h('li', { class: 'error' }, h('code', {}, p.code), ` ${p.message}`, p.hint ? h('div', { class: 'hint' }, p.hint) : null)))
      : null,
    h('p', { class: 'hint' }, `Kernel ${report.kernelVersion}.`),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, ...['Package', 'Kind', 'Version', 'Kernel range', 'Compatible', 'Enabled', 'Permissions'].map((t) => h('th', {}, t)))),
        h(
          'tbody',
          {},
          ...report.packages.map((p) =>
            h(
              'tr',
              { 'data-package': p.name, class: p.compatible ? '' : 'bad' },
              h('td', {}, h('code', {}, p.name)),
              h('td', {}, p.kind),
              h('td', {}, p.version),
              h('td', {}, p.kernelRange ?? '–'),
              h('td', {}, p.compatible ? 'yes' : 'no'),
              h('td', {}, p.enabled ? 'yes' : 'no'),
              h('td', {}, p.permissions ? JSON.stringify(p.permissions) : 'none'),
            ),
          ),
        ),
      ),
    ),
  ])
}
