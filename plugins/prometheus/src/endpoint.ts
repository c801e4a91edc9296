// GET {path}: this process's registry, or under `robutler start --workers N` the sum over every worker (each
// answers with its registry as JSON through the kernel's cluster gather; prom-client adds them up).
import type { KernelApi } from '@robutler/kernel'
import { AggregatorRegistry, Gauge, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client'
import { PREFIX } from './metrics.js'

export const GATHER_TOPIC = 'prometheus:metrics'

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[]

/** The sum over every worker that answered, or null when none did. */
async function clusterMetrics(kernel: KernelApi): Promise<string | null> {
  const answers = (await kernel.cluster.gather(GATHER_TOPIC)).filter((answer): answer is MetricsJson => Array.isArray(answer))
  if (answers.length === 0) return null
  const aggregate = AggregatorRegistry.aggregate(answers)
  // A worker that did not answer in time is missing from the sums: say how many did.
  new Gauge({
    name: `${PREFIX}metrics_processes_reporting`,
    help: 'Serving processes whose metrics this scrape adds up.',
    registers: [aggregate],
  }).set(answers.length)
  return aggregate.metrics()
}

export function serveMetrics(kernel: KernelApi, registry: Registry, path: string): void {
  const inCluster = kernel.cluster.isWorker
  if (inCluster) kernel.cluster.onGather(GATHER_TOPIC, () => registry.getMetricsAsJSON())
  kernel.http.get(path, async function metrics(_request, reply) {
    const text = inCluster ? await clusterMetrics(kernel) : await registry.metrics()
    // Sums over no process would read as every counter reset to zero: better no scrape than a wrong one.
    if (text === null) return reply.code(503).type('text/plain; charset=utf-8').send('No serving process answered the metrics gather in time\n')
    return reply.type(registry.contentType).send(text)
  })
}
