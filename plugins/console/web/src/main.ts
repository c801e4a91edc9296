// The console's entry: asks for a key when the server has an authenticator, then shows one view at a time
// (tabs, reachable by keyboard; the URL's hash names the view, so reload and back work).
import { agentNames as configuredAgents, renderAgents } from './agents.js'
import { ApiError, BASE, getJson, storedKey, storeKey } from './api.js'
import { renderChat } from './chat.js'
import { clear, h } from './dom.js'
import { renderLive } from './live.js'
import { renderPackages } from './packages.js'
import { renderRequests } from './requests.js'
import { renderSpend, usageAvailable } from './spend.js'

interface Session {
  mode: 'admin-key' | 'loopback'
  version: string
  /** Whether the server has a `GET {urlPrefix}/usage` route (plugin-usage). */
  usage: boolean
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const view = $('view')
const tabs = $('tabs')
const note = $('access-note')
const keyForm = $<HTMLFormElement>('key-form')
const keyInput = $<HTMLInputElement>('key')
const keyError = $('key-error')
const signOut = $<HTMLButtonElement>('sign-out')

const TABS: Array<[string, string]> = [
  ['agents', 'Agents'],
  ['chat', 'Chat'],
  ['live', 'Live'],
  ['requests', 'Requests'],
  ['packages', 'Packages'],
]
let agentNames: string[] = []
let leaving = new AbortController()

function askKey(message: string): void {
  tabs.hidden = true
  clear(view)
  keyForm.hidden = false
  keyError.textContent = message
  keyInput.focus()
}

async function show(name: string, argument: string | null): Promise<void> {
  leaving.abort()
  leaving = new AbortController()
  for (const tab of tabs.querySelectorAll('button')) {
    if (tab.dataset.tab === name) tab.setAttribute('aria-current', 'page')
    else tab.removeAttribute('aria-current')
  }
  clear(view)
  view.dataset.view = name
  try {
    if (name === 'chat') {
      if (agentNames.length === 0) agentNames = await configuredAgents()
      renderChat(view, agentNames, argument)
    } else if (name === 'live') renderLive(view, leaving.signal)
    else if (name === 'requests') await renderRequests(view)
    else if (name === 'packages') await renderPackages(view)
    else if (name === 'spend') await renderSpend(view)
    else {
      const agents = await renderAgents(view, (agent) => (location.hash = `#chat/${agent}`))
      agentNames = agents.map((a) => a.name)
    }
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return askKey(`${error.code}: ${error.message}`)
    view.append(h('p', { class: 'error', role: 'alert' }, error instanceof ApiError ? `${error.code}: ${error.message}` : String(error)))
  }
}

function route(): void {
  const [name, argument] = location.hash.slice(1).split('/')
  void show(name || 'agents', argument ? decodeURIComponent(argument) : null)
}

async function start(): Promise<void> {
  let session: Session
  try {
    session = await getJson<Session>(`${BASE}/api/session`)
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && !storedKey()) return askKey('')
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      storeKey(null)
      return askKey(`Refused: ${error.code}: ${error.message}`)
    }
    note.textContent = `The server did not answer: ${String(error)}`
    return
  }
  keyForm.hidden = true
  keyError.textContent = ''
  signOut.hidden = session.mode !== 'admin-key'
  note.textContent =
    session.mode === 'loopback'
      ? `No authenticator is enabled: this console is served to this machine (loopback) only. Kernel ${session.version}.`
      : `Signed in with an admin key (this tab only). Kernel ${session.version}.`
  const entries = [...TABS]
  if (session.usage && (await usageAvailable())) entries.push(['spend', 'Spend'])
  tabs.replaceChildren(
    ...entries.map(([name, title]) => h('button', { type: 'button', 'data-tab': name, onclick: () => (location.hash = `#${name}`) }, title)),
  )
  tabs.hidden = false
  route()
}

keyForm.addEventListener('submit', (event) => {
  event.preventDefault()
  storeKey(keyInput.value.trim())
  keyInput.value = ''
  void start()
})
signOut.addEventListener('click', () => {
  storeKey(null)
  location.hash = ''
  askKey('')
})
window.addEventListener('hashchange', route)
void start()
