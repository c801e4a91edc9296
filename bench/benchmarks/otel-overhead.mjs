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
  'Why (when it misses): three spans per request (HTTP, invoke_agent, chat), each encoded to OTLP protobuf on the ' +
    'request thread and handed over in batches, cost the request thread about 25 µs/req of CPU against 45 (measured per ' +
    'thread on a loaded 2-core machine: about 10 for the plugin installed with nothing sampled — hooks, event payloads, ' +
    'the sampler and a trace id —, 9 for the spans kept until they end, 8 for encoding and handing over); the export ' +
    'thread adds about 5 µs/req (22 when it built the SDK\'s spans and used its serializer). The request thread is what ' +
    'limits req/s, so the ratio follows its share.',)

export const otelSampled = otelBench(
  'otel-sampled',
  'otel overhead, 1% sampled',
  0.01,
  0.95,
  'Why (when it misses): an unsampled request still makes a trace id and asks the sampler, and the kernel builds the ' +
    'run:* and llm:* event payloads for the plugin, which finds no trace for them (≈ 5 µs/req of server CPU measured on ' +
    'a loaded machine, against 37).',
)
