// The agents: each configured agent, then the dynamic ones in the cache, with model, fallbacks, access rules,
// skills and their tools, and health (the agent's own public health route).
import { BASE, getJson, PREFIX } from './api.js'
import { append, h } from './dom.js'

export interface Agent {
  name: string
  description: string
  model: string
  fallbackModels: string[]
  scopes: string[]
  owner: string | null
  admins: string[]
  requireIdentity: boolean
  source: 'static' | 'cache'
  skills: Array<{ name: string; tools: Array<{ name: string; description: string; scope: string; runs: string; isolated: boolean }> }>
}

interface AgentsAnswer {
  agents: Agent[]
  cache: { static: number; cached: number; hits: number; misses: number; loads: number; loadErrors: number }
}

function health(name: string): HTMLElement {
  const badge = h('span', { class: 'badge', 'data-health': name }, 'checking…')
  fetch(`${PREFIX}/${encodeURIComponent(name)}/health`, { cache: 'no-store' })
    .then(async (response) => {
      const body = (await response.json().catch(() => ({}))) as { status?: string }
      badge.textContent = body.status ?? `HTTP ${response.status}`
      badge.classList.add(response.ok ? 'ok' : 'bad')
    })
    .catch(() => {
      badge.textContent = 'unreachable'
      badge.classList.add('bad')
    })
  return badge
}

function card(agent: Agent, openChat: (name: string) => void): HTMLElement {
  const tools = agent.skills.flatMap((skill) => skill.tools.map((tool) => ({ skill: skill.name, ...tool })))
  return h(
    'article',
    { class: 'card agent', 'data-agent': agent.name },
    h('header', { class: 'row spread' }, h('h2', {}, agent.name), health(agent.name)),
    h('p', {}, agent.description || '(no description)'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Model'),
      h('dd', {}, h('code', {}, agent.model), agent.fallbackModels.length ? ` then ${agent.fallbackModels.join(', ')}` : ''),
      h('dt', {}, 'Access'),
      h('dd', {}, `scopes ${agent.scopes.join(', ')}`, agent.owner ? `; owner ${agent.owner}` : '', agent.admins.length ? `; admins ${agent.admins.join(', ')}` : '', agent.requireIdentity ? '; identity required' : '; anonymous allowed'),
      h('dt', {}, 'Source'),
      h('dd', {}, agent.source === 'static' ? 'config' : 'dynamic (cached)'),
      h('dt', {}, 'Skills'),
      h('dd', {}, agent.skills.length ? agent.skills.map((s) => s.name).join(', ') : 'none'),
    ),
    tools.length === 0
      ? null
      : h(
          'details',
          {},
          h('summary', {}, `${tools.length} tool${tools.length === 1 ? '' : 's'}`),
          h(
            'div',
            { class: 'scroll' },
            h(
              'table',
              {},
              h('thead', {}, h('tr', {}, h('th', {}, 'Tool'), h('th', {}, 'Skill'), h('th', {}, 'Scope'), h('th', {}, 'Runs'), h('th', {}, 'Isolated'))),
              h(
                'tbody',
                {},
                ...tools.map((tool) =>
                  h(
                    'tr',
                    { title: tool.description },
                    h('td', {}, h('code', {}, tool.name)),
                    h('td', {}, tool.skill),
                    h('td', {}, tool.scope),
                    h('td', {}, tool.runs === 'worker' ? 'worker pool' : 'inline'),
                    h('td', {}, tool.isolated ? 'yes' : 'no'),
                  ),
                ),
              ),
            ),
          ),
        ),
    h('button', { type: 'button', onclick: () => openChat(agent.name) }, `Chat with ${agent.name}`),
  )
}

/** The agents' names (configured, then cached dynamic ones), for the chat's picker. */
export async function agentNames(): Promise<string[]> {
  const answer = await getJson<AgentsAnswer>(`${BASE}/api/agents`)
  return answer.agents.map((a) => a.name)
}

export async function renderAgents(view: HTMLElement, openChat: (name: string) => void): Promise<Agent[]> {
  const answer = await getJson<AgentsAnswer>(`${BASE}/api/agents`)
  const dynamic = answer.agents.filter((a) => a.source === 'cache')
  append(view, [
    h('p', { class: 'hint' }, `${answer.cache.static} configured, ${answer.cache.cached} dynamic in the cache (${answer.cache.loads} loads, ${answer.cache.loadErrors} failed).`),
    h('div', { class: 'grid' }, ...answer.agents.filter((a) => a.source === 'static').map((agent) => card(agent, openChat))),
    dynamic.length ? h('h2', {}, 'Dynamic agents in the cache') : null,
    dynamic.length ? h('div', { class: 'grid' }, ...dynamic.map((agent) => card(agent, openChat))) : null,
  ])
  return answer.agents
}
