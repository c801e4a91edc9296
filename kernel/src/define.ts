// Branded definitions: the registry checks the brand on a package's default export at load.
import { PACKAGE_BRAND } from '@robutler/registry'
import type { AgentConfig, PluginDefinition, SkillDefinition } from './types.js'

export type Plugin<C = Record<string, unknown>> = PluginDefinition<C> & { readonly [PACKAGE_BRAND]: 'plugin' }
export type Skill<C = Record<string, unknown>> = SkillDefinition<C> & { readonly [PACKAGE_BRAND]: 'skill' }

/**
 * Declares a plugin: the default export of a `robutler.kind: "plugin"` package.
 * @example
 * export default definePlugin({
 *   name: 'echo-provider',
 *   register(kernel, config) {
 *     kernel.providers.register('echo', myProvider)
 *   },
 * })
 */
export function definePlugin<C = Record<string, unknown>>(definition: PluginDefinition<C>): Plugin<C> {
  if (typeof definition?.register !== 'function') throw new TypeError('definePlugin needs a register(kernel, config) function')
  return Object.freeze({ ...definition, [PACKAGE_BRAND]: 'plugin' as const })
}

/**
 * Declares a skill: the default export of a `robutler.kind: "skill"` package.
 * @example
 * export default defineSkill({
 *   name: 'weather',
 *   setup: (config) => ({
 *     tools: [{ name: 'forecast', description: 'Forecast for a city', parameters: { type: 'object' }, run: async () => 'sunny' }],
 *   }),
 * })
 */
export function defineSkill<C = Record<string, unknown>>(definition: SkillDefinition<C>): Skill<C> {
  if (typeof definition?.name !== 'string' || typeof definition.setup !== 'function') {
    throw new TypeError('defineSkill needs a name and a setup(config, kernel) function')
  }
  return Object.freeze({ ...definition, [PACKAGE_BRAND]: 'skill' as const })
}

/**
 * Declares an agent for `createServer({ agents })`; the config is validated when the server starts.
 * @example
 * defineAgent({ name: 'support', model: 'openai/gpt-4o', instructions: 'Be brief.' })
 */
export function defineAgent(config: AgentConfig): AgentConfig {
  return config
}
