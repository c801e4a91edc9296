// The agent loader: one row per agent name. It remembers which names it handed out, so that after missed
// notifications (a lost listener connection) every one of them can be dropped from the kernel's cache.
import { ERR_AGENT_INVALID, type AgentConfig, type AgentLoader, type KernelApi } from '@robutler/kernel'
import { withSignal } from './database.js'
import type { AgentStore } from './store.js'

export interface LoaderState {
  /** Names this loader answered with a config, until their row changes. */
  readonly served: Set<string>
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** The stored config of a row as an agent config named after the row: the row's name wins over the JSON's. */
function agentFrom(name: string, config: unknown): AgentConfig {
  if (!isObject(config)) {
    const kind = config === null ? 'null' : Array.isArray(config) ? 'an array' : `a ${typeof config}`
    // A bad record is that agent's problem alone, reported as the kernel reports any invalid agent config.
    throw ERR_AGENT_INVALID(name, `its stored config is ${kind}, not a JSON object`)
  }
  return { ...config, name } as AgentConfig
}

/**
 * `name → config | null` over the store. Disabled and absent agents are null (404); a database error rejects,
 * which the kernel answers with 503 for that agent and does not cache.
 */
export function createLoader(store: AgentStore, state: LoaderState, log: KernelApi['log']): AgentLoader {
  return async function loadPostgresAgent(name, { signal }) {
    const started = performance.now()
    const row = await withSignal(store.find(name), signal)
    const result = row === null ? 'absent' : row.enabled ? 'found' : 'disabled'
    log.debug({ agent: name, result, ms: Math.round((performance.now() - started) * 10) / 10 }, 'agent lookup')
    if (row === null || !row.enabled) {
      state.served.delete(name)
      return null
    }
    const config = agentFrom(name, row.config)
    state.served.add(name)
    return config
  }
}
