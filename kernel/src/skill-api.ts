// The skill API: what a skill's setup(config, api) receives for one agent. Built from the skill's granted
// permissions; anything else a skill reaches for (the Fastify instance, authenticators, providers, other agents)
// is not there, and asking for it throws a sentence that says so rather than answering undefined.
import type { Logger } from 'pino'
import type { Permissions } from '@robutler/registry'
import type { HealthCheck, SkillApi } from './types.js'

/** What the kernel lends a skill's API; each part is checked against the skill's permissions here. */
export interface SkillApiDeps {
  skill: string
  agent: string
  version: string
  urlPrefix: string
  baseDir: string
  /** The server's environment: only the granted names are copied out of it. */
  env: Readonly<Record<string, string | undefined>>
  permissions: Permissions
  log: Logger
  shared: Map<string, unknown>
  addHealthCheck: (name: string, check: HealthCheck) => void
  onClose: (fn: () => void | Promise<void>) => void
}

/** The granted variables only, frozen: any other name reads undefined, as an unset variable would. */
function grantedEnv(env: Readonly<Record<string, string | undefined>>, names: readonly string[]): Readonly<Record<string, string | undefined>> {
  const granted: Record<string, string | undefined> = Object.create(null)
  for (const name of names) if (env[name] !== undefined) granted[name] = env[name]
  return Object.freeze(granted)
}

/** Keys that code probing an object reads (`await api`, inspection, JSON) and that must answer undefined, not throw. */
const PROBED = new Set(['then', 'toJSON', 'constructor', 'inspect', 'asymmetricMatch', 'nodeType', '$$typeof'])

/**
 * Makes the skill API of one skill on one agent.
 * @example
 * const api = makeSkillApi({ skill: '@acme/skill-weather', agent: 'support', env: process.env, permissions, … })
 * api.env.WEATHER_API_KEY // set only when declared and granted
 * api.http                // throws: the skill API has no 'http'
 */
export function makeSkillApi(deps: SkillApiDeps): SkillApi {
  const { skill, permissions } = deps
  const api: SkillApi = {
    agent: deps.agent,
    version: deps.version,
    urlPrefix: deps.urlPrefix,
    baseDir: deps.baseDir,
    env: grantedEnv(deps.env, permissions.env),
    log: deps.log.child({ skill, agent: deps.agent }),
    health: {
      add(name, check) {
        if (!permissions.kernel.includes('health')) {
          throw new Error(`skill ${skill} cannot add health checks: it needs the kernel permission 'health' (robutler.permissions.kernel in its package.json)`)
        }
        deps.addHealthCheck(name, check)
      },
    },
    onClose: deps.onClose,
    shared<T>(make: () => T): T {
      if (!deps.shared.has(skill)) deps.shared.set(skill, make())
      return deps.shared.get(skill) as T
    },
  }
  Object.freeze(api)
  return new Proxy(api, {
    get(target, key, receiver) {
      if (typeof key === 'symbol' || key in target || PROBED.has(key)) return Reflect.get(target, key, receiver)
      throw new Error(
        `the skill API has no '${key}': a skill gets its agent's name, its config, a logger, its granted env, onClose, shared and health (with the permission), and adds tools, hooks, prompts and routes to its own agent by returning them from setup (docs/security.md)`,
      )
    },
  })
}
