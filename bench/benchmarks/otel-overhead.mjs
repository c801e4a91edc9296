// otel-overhead and otel-sampled: kernel-json with plugin-otel exporting every request's spans (always_on), and
// 1% of them (traceidratio 0.01), over OTLP/HTTP protobuf to a receiver in a process of its own
// (bench/servers/otlp-sink.mjs), against the same kernel without the plugin.
import { fail, PATH } from '../answers.mjs'
import { get, startServer, stopServer } from '../lib.mjs'
import { pairedRuns, runPaired } from '../overhead.mjs'

function otelBench(id, name, ratio, minRatio, why) {
  const bench = {
    id,
    name,
    connections: 50,
    minRatio,
    why: { 'req/s': why },
    run: (context) => runPaired(bench, () => setupOtel(ratio), context),
    method: (context) =>
      `${name} (${id}): two kernels (bench/servers/kernel.mjs), the same but for @robutler/plugin-otel on one, ` +
      `sampler ${ratio === undefined ? 'always_on' : `traceidratio ${ratio}`}, batch export (OTLP/HTTP protobuf, the SDK's ` +
      `default batch settings) to a receiver in a process of its own that answers 200 (checked after the load: it received ` +
      `spans); the kernel-overhead JSON load (${bench.connections} connections, ${pairedRuns('without', 'with', context)}) ` +
      `runs on the one without and the one with in turn; ratio: the mean req/s with over the mean without.`,
  }
  return bench
}

async function setupOtel(ratio) {
  const receiver = await startServer('otlp-sink')
  const plain = await startServer('kernel')
  let traced
  try {
    const env = { BENCH_KERNEL_OTEL: receiver.url }
    if (ratio !== undefined) env.BENCH_KERNEL_OTEL_RATIO = String(ratio)
    traced = await startServer('kernel', { env })
  } catch (error) {
    await stopServer(plain)
    await stopServer(receiver)
    throw error
  }
  return {
    base: { label: 'without', server: plain, path: PATH, headers: {} },
    subject: { label: ratio === undefined ? 'with otel' : `with otel ${ratio * 100}%`, server: traced, path: PATH, headers: {} },
    cleanup: async () => {
      await stopServer(traced)
      await stopServer(plain)
      await stopServer(receiver)
    },
    notes: async () => {
      // The batch processor exports every 5 s: wait for one past the load, then the spans must have arrived.
      const until = Date.now() + 7000
      const exports = async () => JSON.parse((await get(receiver, '/count')).text).exports
      while ((await exports()) === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100))
      if ((await exports()) === 0) fail(`${ratio === undefined ? 'otel' : 'otel sampled'}: the receiver got no export`)
      return []
    },
  }
}

export const otelOverhead = otelBench(
  'otel-overhead',
  'otel overhead, always on',
  undefined,
  0.85,
  'Why (when it misses): three spans per request (HTTP, invoke_agent, chat) noted and encoded to OTLP protobuf on the ' +
    'request thread, copied a batch at a time into a shared-memory ring that the export thread reads. --cpu-prof of the ' +
    'request thread (2026-12-08): frames of plugin-otel are on the stack in 11–13% of its busy samples (16.8% before ' +
    'ids became words, attributes flat lists, names and repeated values kept encoded and postMessage gave way to the ring): ' +
    'ending the chat span and encoding it ~3%, the server span\'s start (sampling, ids, the log bindings) ~2.5%, the ' +
    'other two spans\' ends ~3.5%. The rest of the gap (measured 0.81–0.84×, CPU 0.75–0.79×, on a quiet 2-core machine) ' +
    'is spread thinly over the kernel and Fastify: the event payloads built for the listeners, more code to warm up (the ' +
    'first run with the plugin is always the slowest), and the export thread (~12 µs/req, mostly its HTTP posts) sharing ' +
    'the second core with the load generator.',
)

export const otelSampled = otelBench(
  'otel-sampled',
  'otel overhead, 1% sampled',
  0.01,
  0.95,
  'Why (when it misses): an unsampled request costs the plugin little of its own (its frames are in ~1.5% of the ' +
    'request thread\'s busy samples: the onRequest hook, four random words and the sampler, a Map miss per kernel event), ' +
    'yet the run measures 0.88× (CPU 0.87×, 2026-12-08, quiet machine): the kernel builds the run:*, llm:* and ' +
    'request:end payloads (and Fastify\'s routeOptions for the route) for listeners that find no trace, and the rest is ' +
    'spread over the path, like the always-on run\'s.')
