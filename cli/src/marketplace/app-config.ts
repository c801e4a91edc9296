// The app's robutler.config.json as the marketplace sees it: which packages it enables, and in-place edits that
// enable or disable one. The file is edited as text (see json-text.ts), never re-serialised, so everything the
// author wrote — key order, indentation, comments, other sections — stays as it was.
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { pathToFileURL } from 'node:url'
import { applyEdits, insertMember, memberOf, parseJsonText, removeMember, type JsonNode, type TextEdit } from './json-text.js'
import { describePermissions, type Permissions, type Section } from '@robutler/registry'
import { parseConfigText } from '@robutler/kernel'

type ObjectNode = Extract<JsonNode, { type: 'object' }>

export interface AppConfig {
  path: string
  /** The file's text; null when it does not exist (an edit then creates it). */
  text: string | null
  /** The parsed config ({} when the file does not exist); null when it cannot be read. */
  data: Record<string, any> | null
  /** Why the file cannot be edited (a JavaScript config, not JSON, not an object); undefined when it can. */
  uneditable?: string
}

/** Where a package is enabled: the config's section, and the agents whose `skills` map names it. */
export interface Enablement {
  section: boolean
  agents: string[]
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Reads the config file. A `.mjs`/`.js` config is imported (read only); a JSON one is parsed. Never throws. */
export async function readAppConfig(path: string): Promise<AppConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { path, text: null, data: {} }
    return { path, text: null, data: null, uneditable: (error as Error).message }
  }
  if (['.mjs', '.js', '.cjs'].includes(extname(path))) {
    const uneditable = 'it is a JavaScript module, and robutler edits only JSON configs'
    try {
      const data = (await import(pathToFileURL(path).href)).default
      return { path, text, data: isObject(data) ? data : null, uneditable }
    } catch (error) {
      return { path, text, data: null, uneditable: `it does not load: ${(error as Error).message}` }
    }
  }
  // JSON with comments, as the server reads it; a syntax error is said at its line:column with the line shown.
  const parsed = parseConfigText(text, path)
  const syntax = parsed.problems[0]
  if (syntax) return { path, text, data: null, uneditable: `it is not valid JSON at line ${syntax.message.slice(path.length + 1)}` }
  if (!isObject(parsed.value)) return { path, text, data: null, uneditable: 'it is not a JSON object' }
  return { path, text, data: parsed.value }
}

/** Names of the config's agents, in order. */
export function agentNames(data: Record<string, any> | null): string[] {
  const agents: unknown = data?.agents
  return Array.isArray(agents) ? agents.flatMap((agent) => (isObject(agent) && typeof agent.name === 'string' ? [agent.name] : [])) : []
}

/** Every package the config enables in `section`, with where: the section itself and (skills) each agent naming it. */
export function enabledPackages(data: Record<string, any> | null, section: Section): Map<string, Enablement> {
  const enabled = new Map<string, Enablement>()
  const at = (name: string): Enablement => {
    let entry = enabled.get(name)
    if (!entry) enabled.set(name, (entry = { section: false, agents: [] }))
    return entry
  }
  if (isObject(data?.[section])) for (const name of Object.keys(data![section])) at(name).section = true
  if (section === 'skills' && Array.isArray(data?.agents)) {
    for (const agent of data!.agents) {
      if (!isObject(agent) || !isObject(agent.skills)) continue
      for (const name of Object.keys(agent.skills)) at(name).agents.push(String(agent.name))
    }
  }
  return enabled
}

function agentNode(root: ObjectNode, agent: string): ObjectNode | undefined {
  const agents = memberOf(root, 'agents')?.value
  if (agents?.type !== 'array') return undefined
  return agents.items.find(
    (item): item is ObjectNode => item.type === 'object' && memberOf(item, 'name')?.value.type === 'scalar' && (memberOf(item, 'name')!.value as { value: unknown }).value === agent,
  )
}

/** Adds `"name": {}` to the object member `key` of `parent`, creating the member when it is missing. */
function addEntry(text: string, parent: ObjectNode, key: string, name: string, where: string): TextEdit[] | null {
  const member = memberOf(parent, key)
  if (!member) return insertMember(text, parent, key, `{ ${JSON.stringify(name)}: {} }`)
  if (member.value.type !== 'object') throw new Error(`${where} is not an object`)
  if (memberOf(member.value, name)) return null
  return insertMember(text, member.value, name, '{}')
}

function rootOf(text: string): ObjectNode {
  const root = parseJsonText(text)
  if (root.type !== 'object') throw new Error('it is not a JSON object')
  return root
}

export interface ConfigEdit {
  /** The new text of the file. */
  text: string
  /** What changed, for the user: `enabled in skills`, `attached to agent echo`. Empty when nothing did. */
  changes: string[]
}

/**
 * Enables `name` in `section` (`"name": {}`) and, given an agent, attaches it to that agent's `skills` map.
 * An entry that is already there is left as it is (its config kept). A missing file becomes a new config.
 * Throws when the text cannot be edited (the caller checked `readAppConfig` first, so only on a bug).
 */
export function enableInConfig(text: string | null, section: Section, name: string, agent?: string): ConfigEdit {
  if (text === null) {
    return { text: `{\n  ${JSON.stringify(section)}: {\n    ${JSON.stringify(name)}: {}\n  }\n}\n`, changes: [`enabled in ${section}`] }
  }
  const root = rootOf(text)
  const edits: TextEdit[] = []
  const changes: string[] = []
  const inSection = addEntry(text, root, section, name, `the config's ${section}`)
  if (inSection) {
    edits.push(...inSection)
    changes.push(`enabled in ${section}`)
  }
  if (agent !== undefined) {
    const node = agentNode(root, agent)
    if (!node) throw new Error(`no agent named ${agent}`)
    const attached = addEntry(text, node, 'skills', name, `agent ${agent}'s skills`)
    if (attached) {
      edits.push(...attached)
      changes.push(`attached to agent ${agent}`)
    }
  }
  return { text: applyEdits(text, edits), changes }
}

/** Removes `name` from `section` and (skills) from every agent's `skills` map, leaving the rest as written. */
export function disableInConfig(text: string, section: Section, name: string): ConfigEdit {
  const root = rootOf(text)
  const edits: TextEdit[] = []
  const changes: string[] = []
  const remove = (object: JsonNode | undefined, change: string): void => {
    if (object?.type !== 'object') return
    const index = object.members.findIndex((member) => member.key === name)
    if (index < 0) return
    edits.push(...removeMember(text, object, index))
    changes.push(change)
  }
  remove(memberOf(root, section)?.value, `disabled in ${section}`)
  const agents = memberOf(root, 'agents')?.value
  if (section === 'skills' && agents?.type === 'array') {
    for (const item of agents.items) {
      const agentName = memberOf(item, 'name')?.value
      remove(memberOf(item, 'skills')?.value, `detached from agent ${agentName?.type === 'scalar' ? String(agentName.value) : '(unnamed)'}`)
    }
  }
  return { text: applyEdits(text, edits), changes }
}

/**
 * Records the permissions granted to skill `name` as the `grant` of its entry in the `skills` section (after
 * `enableInConfig`, which made the entry), replacing an older grant. The kernel refuses to start a skill whose
 * installed version asks for more than its grant.
 */
export function recordGrant(edit: ConfigEdit, name: string, granted: Permissions): ConfigEdit {
  const root = rootOf(edit.text)
  const entry = memberOf(memberOf(root, 'skills')?.value, name)?.value
  if (entry?.type !== 'object') throw new Error(`the config's skills section has no entry for ${name}`)
  const value = JSON.stringify(Object.fromEntries(Object.entries(granted).filter(([, list]) => (list as string[]).length > 0)))
  const existing = memberOf(entry, 'grant')
  const edits: TextEdit[] = existing ? [{ start: existing.value.start, end: existing.value.end, text: value }] : insertMember(edit.text, entry, 'grant', value)
  return { text: applyEdits(edit.text, edits), changes: [...edit.changes, `granted ${describePermissions(granted)}`] }
}
