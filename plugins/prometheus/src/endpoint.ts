// GET {path}: this process's registry, or under `robutler start --workers N` the sum over every worker (each
// answers with its registry as JSON through the kernel's cluster gather; prom-client adds them up). What workers
// that died had counted stays in the sums (their counters and histograms, never their gauges): a counter of the
// cluster only goes up when a worker is killed and replaced, so Prometheus reads no reset.
import type { KernelApi } from '@robutler/kernel'
import { AggregatorRegistry, Gauge, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client'
import { PREFIX } from './metrics.js'

export const GATHER_TOPIC = 'prometheus:metrics'

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[]

function isMetricsJson(answer: unknown): answer is MetricsJson {
  return Array.isArray(answer)
}

/** The metrics of a process that is gone that still count: what only goes up (a gauge of the dead is nothing now). */
function cumulative(metrics: MetricsJson): MetricsJson {
  return metrics.filter((metric) => String(metric.type) === 'counter' || String(metric.type) === 'histogram')
}

/** Departed workers' answers folded into one (the primary then keeps that one instead of one per dead worker). */
async function mergeDeparted(answers: unknown[]): Promise<MetricsJson> {
  return (await AggregatorRegistry.aggregate(answers.filter(isMetricsJson).map(cumulative)).getMetricsAsJSON()) as MetricsJson
}

/** The sum over every worker that answered and what departed ones counted, or null when no live worker answered. */
async function clusterMetrics(kernel: KernelApi): Promise<string | null> {
  const { values, departed } = await kernel.cluster.gatherAll(GATHER_TOPIC)
  const answers = values.filter(isMetricsJson)
  if (answers.length === 0) return null
  const aggregate = AggregatorRegistry.aggregate([...answers, ...departed.filter(isMetricsJson).map(cumulative)])
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
  if (inCluster) kernel.cluster.onGather(GATHER_TOPIC, () => registry.getMetricsAsJSON(), { merge: mergeDeparted })
  kernel.http.get(path, async function metrics(_request, reply) {
    const text = inCluster ? await clusterMetrics(kernel) : await registry.metrics()
    // Sums over no process would read as every counter reset to zero: better no scrape than a wrong one.
    if (text === null) return reply.code(503).type('text/plain; charset=utf-8').send('No serving process answered the metrics gather in time\n')
    return reply.type(registry.contentType).send(text)
  })
}
