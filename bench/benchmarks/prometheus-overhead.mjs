// prometheus-overhead: kernel-json with plugin-prometheus against the same kernel without it.
import { fail, PATH } from '../answers.mjs'
import { get, startServer, stopServer } from '../lib.mjs'
import { pairedRuns, runPaired } from '../overhead.mjs'

export const prometheusOverhead = {
  id: 'prometheus-overhead',
  name: 'prometheus overhead',
  connections: 50,
  minRatio: 0.9,
  why: {
    'req/s':
      'Why (when it misses): bench/profile.mjs json kernel with BENCH_KERNEL_PROMETHEUS=1: its in-progress onRequest ' +
      "hook and the response 'close' listener it adds, the events the kernel builds only because it listens " +
      "(request:end — with Fastify's routeOptions object —, llm:end, agent:resolved) and its recorders, which find " +
      'their series through one Map level per label value (a key string built and hashed per event cost ~0.4 µs a ' +
      "look-up): ≈ 2% of the request's CPU; prom-client itself ≈ 0 (values are copied in at scrape). The rest is the " +
      "loopback wake-up effect described under 'kernel overhead, JSON' and this benchmark's noise: 2 runs with against " +
      '3 without, on a shared machine.',
  },
  run: (context) => runPaired(prometheusOverhead, setupPrometheus, context),
  method: (context) =>
    `Prometheus overhead (prometheus-overhead): two kernels (bench/servers/kernel.mjs), the same but for ` +
    `@robutler/plugin-prometheus {} on one (checked first: its /metrics answers robutler_http_requests_total, the other's ` +
    `is 404; and after the load, that the 200s were counted); both stay up, and the kernel-overhead JSON load ` +
    `(${prometheusOverhead.connections} connections, ${pairedRuns('without', 'with', context)}) runs on the one without and the one with in turn; ratio: the mean ` +
    `req/s with over the mean without.`,
}

/** Two kernels, the same but for plugin-prometheus; both stay up for all the measurements. */
async function setupPrometheus() {
  const plain = await startServer('kernel')
  let monitored
  try {
    monitored = await startServer('kernel', { env: { BENCH_KERNEL_PROMETHEUS: '1' } })
    const metrics = await get(monitored, '/metrics')
    if (metrics.status !== 200 || !metrics.text.includes('robutler_http_requests_total')) {
      fail(`/metrics on the monitored kernel: ${metrics.status} ${metrics.text.slice(0, 200)}`)
    }
    const none = await get(plain, '/metrics')
    if (none.status !== 404) fail(`/metrics on the plain kernel answered ${none.status}, not 404`)
  } catch (error) {
    if (monitored) await stopServer(monitored)
    await stopServer(plain)
    throw error
  }
  return {
    base: { label: 'without', server: plain, path: PATH, headers: {} },
    subject: { label: 'with prometheus', server: monitored, path: PATH, headers: {} },
    cleanup: async () => {
      await stopServer(monitored)
      await stopServer(plain)
    },
    notes: async () => {
      // The metrics must have counted the load: the plugin was recording, not idle.
      const metrics = await get(monitored, '/metrics')
      return answered200s(metrics.text) > 0 ? [] : ['prometheus overhead: robutler_http_requests_total counted no 200 answers after the load.']
    },
  }
}

/** The 200 answers a /metrics text counts in robutler_http_requests_total. */
export function answered200s(metricsText) {
  return metricsText
    .split('\n')
    .filter((line) => line.startsWith('robutler_http_requests_total{') && line.includes('status="200"'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)
}
