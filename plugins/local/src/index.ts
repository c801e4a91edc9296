// @robutler/plugin-local: a deterministic model provider for demos, offline tests and benchmarks.
import { definePlugin } from '@robutler/kernel'
import { createLocalProvider, type LocalConfig } from './provider.js'

export default definePlugin<LocalConfig>({
  name: 'local',
  register(kernel, config) {
    kernel.providers.register('local', createLocalProvider(config ?? {}))
  },
})

export { createLocalProvider }
export type { LocalConfig }
