// @robutler/plugin-otel: OpenTelemetry traces of a Robutler server with the GenAI semantic conventions, exported
// over OTLP/HTTP to any backend (a Collector, Jaeger, Tempo, Langfuse, Honeycomb, Datadog).
import { definePlugin } from '@robutler/kernel'
import { resolveSettings, type OtelConfig } from './config.js'
import { ExportThread } from './export-thread.js'
import { samplingOf } from './ids.js'
import { RequestTraces } from './request-traces.js'

/**
 * The plugin. Each process of `robutler start --workers N` exports its own spans.
 * @example
 * // robutler.config.json, with OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 in the environment
 * { "plugins": { "@robutler/plugin-otel": { "captureContent": false } } }
 */
export default definePlugin<OtelConfig>({
  name: 'otel',
  register(kernel, config) {
    const settings = resolveSettings(config ?? {}, kernel.env)
    if (!settings.enabled) {
      kernel.log.info('OTEL_SDK_DISABLED=true: no traces are recorded')
      return
    }
    // Spans are encoded on the request thread and exported from a thread of their own (export-worker.ts).
    const exports = new ExportThread(settings, kernel.version, kernel.log)
    const traces = new RequestTraces(samplingOf(settings.sampler, settings.ratio), (trace, span, traceState) => exports.add(trace, span, traceState), settings, kernel.http.log)
    traces.listen(kernel.events)
    kernel.propagation.add((requestId, headers, toolCallId) => traces.inject(requestId, headers, toolCallId))
    kernel.http.addHook('onRequest', function startTrace(request, reply, done) {
      traces.start(request, reply.raw)
      done()
    })
    // After the kernel's drain, so the last requests' spans are in the batch that goes out.
    kernel.onClose(async () => {
      traces.unlisten(kernel.events)
      await exports.close()
    })
    kernel.log.debug({ url: settings.url, protocol: settings.protocol, sampler: settings.sampler, ratio: settings.ratio }, 'opentelemetry tracing')
  },
})

export { surfaceOf } from './request-traces.js'
export type { OtelConfig }
