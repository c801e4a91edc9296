// Runs one hook list in priority order (the lists are sorted when the agent is built).
import type { HookEntry } from './agent-build.js'
import type { HookMap, HookName } from './types.js'

export async function runHooks<K extends HookName>(entries: Array<HookEntry<K>>, ...args: Parameters<HookMap[K]>): Promise<void> {
  for (const entry of entries) await (entry.fn as (...a: Parameters<HookMap[K]>) => unknown)(...args)
}
