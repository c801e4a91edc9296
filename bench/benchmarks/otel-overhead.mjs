// otel-overhead and otel-sampled: kernel-json with plugin-otel exporting every request's spans (always_on), and
// 1% of them (traceidratio 0.01), over OTLP/HTTP protobuf to a receiver in this process, against the same kernel
// without the plugin.
import { createServer } from 'node:http'
import { fail, PATH } from '../answers.mjs'
import { startServer, stopServer } from '../lib.mjs'
import { pairedRuns, runPaired } from '../overhead.mjs'

/** An OTLP/HTTP endpoint that takes every export (200) and counts the exports and their bytes. */
async function startReceiver() {
  const counts = { exports: 0, bytes: 0 }
  const server = createServer((req, res) => {
    req.on('data', (chunk) => void (counts.bytes += chunk.length))
    req.on('end', () => {
      counts.exports++
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    counts,
    close: () => new Promise((resolve) => {
      server.closeAllConnections()
      server.close(resolve)
    }),
  }
}

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
      `default batch settings) to a receiver in the bench process that answers 200 (checked after the load: it received ` +
      `spans); the kernel-overhead JSON load (${bench.connections} connections, ${pairedRuns('without', 'with', context)}) ` +
      `runs on the one without and the one with in turn; ratio: the mean req/s with over the mean without.`,
  }
  return bench
}

async function setupOtel(ratio) {
  const receiver = await startReceiver()
  const plain = await startServer('kernel')
  let traced
  try {
    const env = { BENCH_KERNEL_OTEL: receiver.url }
    if (ratio !== undefined) env.BENCH_KERNEL_OTEL_RATIO = String(ratio)
    traced = await startServer('kernel', { env })
  } catch (error) {
    await stopServer(plain)
    await receiver.close()
    throw error
  }
  return {
    base: { label: 'without', server: plain, path: PATH, headers: {} },
    subject: { label: ratio === undefined ? 'with otel' : `with otel ${ratio * 100}%`, server: traced, path: PATH, headers: {} },
    cleanup: async () => {
      await stopServer(traced)
      await stopServer(plain)
      await receiver.close()
    },
    notes: async () => {
      // The batch processor exports every 5 s: wait for one past the load, then the spans must have arrived.
      const until = Date.now() + 7000
      while (receiver.counts.exports === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100))
      if (receiver.counts.exports === 0) fail(`${ratio === undefined ? 'otel' : 'otel sampled'}: the receiver got no export`)
      return []
    },
  }
}

export const otelOverhead = otelBench(
  'otel-overhead',
  'otel overhead, always on',
  undefined,
  0.85,
  'Why (when it misses): three spans per request (HTTP, invoke_agent, chat), each with its attributes, ended, batched ' +
    'and serialised to protobuf on the event loop, plus a pino child logger per request for the trace ids.',
)

export const otelSampled = otelBench(
  'otel-sampled',
  'otel overhead, 1% sampled',
  0.01,
  0.95,
  'Why (when it misses): an unsampled request still asks the sampler and makes a non-recording span for its HTTP ' +
    'request; its kernel events still go to the plugin, which finds no trace for it.',
)
