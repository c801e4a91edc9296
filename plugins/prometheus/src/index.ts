// @robutler/plugin-prometheus: Prometheus metrics for a Robutler server — HTTP, agents, model calls, tools, the
// worker pool, the agent cache and rate limits — on a registry of its own, with bounded label values, summed
// across the processes of `robutler start --workers N`.
import type { RouteOptions } from 'fastify'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { definePlugin } from '@robutler/kernel'
import { resolveSettings, type PrometheusConfig } from './config.js'
import { serveMetrics } from './endpoint.js'
import { InProgress } from './in-progress.js'
import { NO_AGENT, OTHER, UNKNOWN, UNMATCHED_ROUTE } from './labels.js'
import { createMetrics, PREFIX } from './metrics.js'
import { Recorder } from './recorder.js'

/**
 * prom-client's process and Node.js metrics, less its three gauges named `*_total`, which `promtool check
 * metrics` rejects (only counters may end in `_total`): their by-type gauges (`nodejs_active_handles{type}`, …)
 * carry the same figures.
 */
function addDefaultMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: PREFIX })
  for (const what of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`${PREFIX}nodejs_active_${what}_total`)
}

/**
 * The plugin. Enable it in the config's `plugins` section, with `enableMonitoring: true` in createServer's
 * options, or with `PROMETHEUS_ENABLED=true`.
 * @example
 * // robutler.config.json
 * { "plugins": { "@robutler/plugin-prometheus": { "path": "/metrics", "maxAgentLabels": 100 } } }
 */
export default definePlugin<PrometheusConfig>({
  name: 'prometheus',
  register(kernel, config) {
    const settings = resolveSettings(config ?? {})
    const registry = new Registry()
    const inProgress = new InProgress()
    const metrics = createMetrics(registry, {
      pool: kernel.pool,
      agents: kernel.agents,
      version: kernel.version,
      writeInProgress: (gauge) => inProgress.writeInProgress(gauge),
      writeAborted: (counter) => inProgress.writeAborted(counter),
    })
    if (settings.defaultMetrics) addDefaultMetrics(registry)

    const recorder = new Recorder(metrics, { urlPrefix: kernel.urlPrefix, maxAgentLabels: settings.maxAgentLabels })
    recorder.listen(kernel.events)
    kernel.http.addHook('onRoute', function countRouteInProgress(route: RouteOptions) {
      inProgress.attach(route, recorder.routeLabel(route.url))
    })
    serveMetrics(kernel, registry, settings.path)

    kernel.onClose(() => {
      recorder.unlisten(kernel.events)
      registry.clear()
    })
    kernel.log.debug({ path: settings.path, maxAgentLabels: settings.maxAgentLabels }, 'prometheus metrics')
  },
})

export { NO_AGENT, OTHER, UNKNOWN, UNMATCHED_ROUTE }
export type { PrometheusConfig }
