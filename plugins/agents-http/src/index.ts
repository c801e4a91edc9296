// @robutler/plugin-agents-http: dynamic agents fetched from a portal (`GET {baseURL}/{name}`), with an auth
// header, honouring ETag and Cache-Control.
import { definePlugin } from '@robutler/kernel'
import { settingsOf, type AgentsHttpConfig } from './config.js'
import { freshnessOf } from './freshness.js'
import { PortalAgents } from './portal.js'

export default definePlugin<AgentsHttpConfig>({
  name: 'agents-http',
  register(kernel, config) {
    const settings = settingsOf(config)
    const portal = new PortalAgents(settings, kernel.log)
    kernel.agents.addLoader(function agentsHttp(name, { signal, propagation }) {
      return portal.load(name, signal, propagation)
    }, { priority: settings.priority })
  },
})

export { PortalAgents, freshnessOf, settingsOf }
export type { AgentsHttpConfig }
